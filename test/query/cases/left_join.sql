-- tables: people@ts, auctions@ts
SELECT P.name, A.id AS auction FROM people AS P LEFT JOIN auctions AS A ON A.seller = P.id
