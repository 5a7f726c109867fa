-- tables: auctions@ts, people@ts
SELECT P.name, P.city, A.id AS auction, A.category
FROM auctions AS A INNER JOIN people AS P ON A.seller = P.id
WHERE A.category = 7
