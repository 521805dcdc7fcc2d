q(1).
0.5::r(X) :- q(X).
P::s(X) :- q(X).
query(s(1)).
