-- tables: bids@ts, auctions@ts
SELECT B.auction, B.price, A.seller
FROM bids AS B, auctions AS A
WHERE A.id = B.auction AND B.ts BETWEEN A.ts AND A.ts + INTERVAL '10' SECOND
