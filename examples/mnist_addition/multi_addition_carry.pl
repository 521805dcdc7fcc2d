% N-digit MNIST addition, written as a ripple-carry adder over the digit columns.
%
% Same answers and the same probabilities as multi_addition.pl, but the ground program
% grows with 2 * 10^k partial sums below column k instead of 10^N * 10^N pairs of
% numbers, so N = 3 and N = 4 ground and compile where the number-based program
% does not.  Numbers are lists of digit images, most significant first.
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).

% columns(Xs, Ys, V, C, P): the columns of Xs + Ys written V (below P = 10^length)
% with carry C out of the leftmost column.
columns([], [], 0, 0, 1).
columns([A|As], [B|Bs], V, C, P) :-
    columns(As, Bs, V0, C0, P0),
    digit(A, DA), digit(B, DB),
    S is DA + DB + C0, D is S mod 10, C is S // 10,
    V is V0 + D * P0, P is P0 * 10.

multi_addition(X, Y, Z) :- columns(X, Y, V, C, P), Z is V + C * P.
