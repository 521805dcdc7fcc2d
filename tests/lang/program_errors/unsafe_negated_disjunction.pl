node(a).
edge(a, b).
isolated(X) :- \+ (edge(X, Y) ; edge(Y, X)), node(Y).
query(isolated(a)).
