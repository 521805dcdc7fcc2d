% N-digit MNIST addition, DeepProbLog's program verbatim (its examples/MNIST/models/addition.pl):
% numbers are lists of digit images, most significant first.  The accumulator Acc of
% number/3 is bound by the caller, as in ProbLog; einlog grounds it top-down.
% It grounds 10^N x 10^N digit combinations per query shape: fine for N = 2 (one circuit,
% 199 sums, ~1 s); for N >= 3 use the equivalent ripple-carry multi_addition_carry.pl.
nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).

number([],Result,Result).
number([H|T],Acc,Result) :- digit(H,Nr), Acc2 is Nr+10*Acc,number(T,Acc2,Result).
number(X,Y) :- number(X,0,Y).

multi_addition(X,Y,Z) :- number(X,X2),number(Y,Y2), Z is X2+Y2.
addition(X,Y,Z) :- digit(X,X2), digit(Y,Y2), Z is X2+Y2.
