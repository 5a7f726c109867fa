-- tables: orders@ts, rates@ts
SELECT o.id, o.amount, r.rate
FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.currency = r.currency
