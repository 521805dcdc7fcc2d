% Reachability in a cyclic graph: tabling must terminate; exact needs cycle breaking.
0.8::edge(a, b).
0.6::edge(b, c).
0.7::edge(c, a).
0.5::edge(b, d).
0.4::edge(d, c).
path(X, Y) :- edge(X, Y).
path(X, Y) :- path(X, Z), edge(Z, Y).
query(path(a, _)).
