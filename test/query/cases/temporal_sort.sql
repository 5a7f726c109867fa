-- tables: readings@ts
-- ordered
-- Rows in event-time order; rows of one time by reading, highest first (NULL last), then arrival.
SELECT ts, sensor, reading
FROM readings
ORDER BY ts, reading DESC
