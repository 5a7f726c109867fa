-- tables: bids@ts
SELECT window_start, auction, total, rownum FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rownum
  FROM (SELECT auction, window_start, window_end, SUM(price) AS total
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end)
) WHERE rownum <= 1
