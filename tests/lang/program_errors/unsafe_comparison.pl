q(1).
big(X) :- q(X), Y > 3.
query(big(1)).
