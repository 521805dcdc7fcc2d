% Single-digit MNIST addition (DeepProbLog's program, unchanged).
% digit(X, Y): the network mnist_net reads image X as digit Y.
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).

addition(X, Y, Z) :- digit(X, X2), digit(Y, Y2), Z is X2 + Y2.
