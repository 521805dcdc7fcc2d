node(a).
edge(a, b).
lonely(X) :- node(X), \+ edge(X, Y), Y \== X.
query(lonely(a)).
