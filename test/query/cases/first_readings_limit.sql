-- tables: readings@ts
-- ordered
-- The readings from the second to the fifth in event time: ORDER BY the time attribute, then
-- LIMIT and OFFSET over the sort's order.
SELECT ts, sensor, reading
FROM readings
ORDER BY ts, reading DESC
LIMIT 4 OFFSET 1
