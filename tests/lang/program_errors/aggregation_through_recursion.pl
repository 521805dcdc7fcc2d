edge(a, b).
size(N) :- aggregate_all(count, reach(_), N).
reach(X) :- edge(X, _).
reach(N) :- size(N).
query(size(N)).
