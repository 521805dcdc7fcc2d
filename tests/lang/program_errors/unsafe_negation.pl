node(a).
edge(a, b).
lonely(X) :- \+ edge(X, Y), node(Y).
query(lonely(a)).
