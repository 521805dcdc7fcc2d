% N-digit MNIST addition: numbers are lists of digit images, most significant first.
%
% DeepProbLog writes number/3 with an accumulator bound by the caller:
%     number([], Result, Result).
%     number([H|T], Acc, Result) :- digit(H, Nr), Acc2 is Nr + 10 * Acc, number(T, Acc2, Result).
% einlog's front end requires every rule to be range restricted on its own, so the
% same function is written without the accumulator (value and place of the suffix):
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).

digits_value([], 0, 1).
digits_value([H|T], V, P) :- digits_value(T, V0, P0), digit(H, D), V is V0 + D * P0, P is P0 * 10.

number(X, Y) :- digits_value(X, Y, _).
multi_addition(X, Y, Z) :- number(X, X2), number(Y, Y2), Z is X2 + Y2.
