q(1).
big(X) :- q(X), _ > 3.
query(big(1)).
