% is/2 arithmetic and comparisons.
num(1). num(2). num(3). num(4). num(5).
square(X, Y) :- num(X), Y is X * X.
big(X) :- num(X), X >= 4.
even(X) :- num(X), X mod 2 =:= 0.
mixed(X) :- num(X), Y is X / 2, Y > 1.0, X =\= 4.
query(square(_, _)).
query(big(_)).
query(even(_)).
query(mixed(_)).
