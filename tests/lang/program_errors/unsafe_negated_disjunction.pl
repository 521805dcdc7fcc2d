node(a).
edge(a, b).
isolated(X) :- node(X), \+ (edge(X, Y) ; edge(Y, X)), Y \= X.
query(isolated(a)).
