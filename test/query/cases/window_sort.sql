-- tables: readings@ts
-- ordered
-- Window results in the order of their window_time (the time attribute), sensors in name order.
SELECT window_time, sensor, COUNT(*) AS n, MAX(reading) AS top
FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY sensor, window_start, window_end, window_time
ORDER BY window_time, sensor
