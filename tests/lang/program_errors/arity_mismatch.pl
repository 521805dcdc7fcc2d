edge(a, b).
path(X, Y) :- edge(X, Y).
reach(X, Y) :- path(X, Y, _).
query(reach(a, b)).
