edge(a, b).
path(X, Y) :- edge(X, _).
query(path(a, b)).
