-- Pages ranked by unique visitors over the last 60 minutes, every minute (the SQL form of ranking.ts).
-- squall sql examples/unique-visitor-ranking/ranking.sql --source access=<access.jsonl> --event-time access=time
SELECT window_start, window_end, path, visitors
FROM (
  SELECT window_start, window_end, path, APPROX_COUNT_DISTINCT(ip) AS visitors,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY APPROX_COUNT_DISTINCT(ip) DESC) AS rn
  FROM TABLE(HOP(TABLE access, DESCRIPTOR(time), INTERVAL '1' MINUTE, INTERVAL '60' MINUTE))
  WHERE method = 'GET' AND status < 400 AND path NOT LIKE '/static/%'
  GROUP BY window_start, window_end, path
)
WHERE rn <= 10
