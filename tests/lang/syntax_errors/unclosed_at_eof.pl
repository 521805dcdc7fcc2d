p(X) :- q(f(X)
