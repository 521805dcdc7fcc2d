% Left- and right-recursive closure give the same answers.
e(1, 2). e(2, 3). e(3, 4). e(4, 2).
l(X, Y) :- e(X, Y).
l(X, Y) :- l(X, Z), e(Z, Y).
r(X, Y) :- e(X, Y).
r(X, Y) :- e(X, Z), r(Z, Y).
query(l(1, _)).
query(r(1, _)).
