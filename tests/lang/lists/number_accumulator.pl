% DeepProbLog's N-digit number, verbatim: the accumulator Acc comes from the
% call (it is read only by is/2), so the front end treats it as call-bound.
0.4::digit(a, 0); 0.6::digit(a, 1).
0.3::digit(b, 1); 0.7::digit(b, 2).
number([], Result, Result).
number([H|T], Acc, Result) :- digit(H, Nr), Acc2 is Nr + 10 * Acc, number(T, Acc2, Result).
number(X, Y) :- number(X, 0, Y).
query(number([a, b], X)).
query(number([b, a, b], 212)).
