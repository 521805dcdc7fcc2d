p(X) :- q(X)).
