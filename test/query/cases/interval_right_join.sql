-- tables: bids@ts, auctions@ts
SELECT A.id, A.seller, B.price
FROM bids AS B RIGHT JOIN auctions AS A
ON A.id = B.auction AND B.ts BETWEEN A.ts + INTERVAL '5' SECOND AND A.ts + INTERVAL '10' SECOND
