nn(Net, [X], Y, [0, 1]) :: digit(X, Y).
