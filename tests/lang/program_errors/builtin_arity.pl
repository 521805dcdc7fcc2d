p(X) :- between(1, 3).
query(p(1)).
