-- tables: bids@ts, auctions@ts
SELECT B.auction, B.bids, A.id, A.seller
FROM (SELECT auction, window_start, window_end, COUNT(*) AS bids
      FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end) AS B
FULL OUTER JOIN (SELECT id, seller, window_start, window_end
      FROM TABLE(TUMBLE(TABLE auctions, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY id, seller, window_start, window_end) AS A
ON B.auction = A.id AND B.window_start = A.window_start AND B.window_end = A.window_end
