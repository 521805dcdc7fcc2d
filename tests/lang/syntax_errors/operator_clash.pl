p(X) :- X = Y = Z.
