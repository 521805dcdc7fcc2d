is(X, X).
query(is(1, 1)).
