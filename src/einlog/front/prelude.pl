% einlog prelude: ProbLog's lists library, written without cut so that every
% clause has a logical reading.  Compiled into a program only for the
% predicates the program uses.  Helpers are named '$lists_...'.

member(X, [X|_]).
member(X, [_|T]) :- member(X, T).

% memberchk/2: the first match only (X \= Y replaces the cut).
memberchk(X, [X|_]).
memberchk(X, [Y|T]) :- X \= Y, memberchk(X, T).

append([], L, L).
append([H|T], L, [H|R]) :- append(T, L, R).

length(L, N) :- ground(N), '$lists_mklist'(N, L).
length(L, N) :- var(N), '$lists_len'(L, 0, N).
'$lists_mklist'(0, []).
'$lists_mklist'(N, [_|T]) :- N > 0, M is N - 1, '$lists_mklist'(M, T).
'$lists_len'([], N, N).
'$lists_len'([_|T], N0, N) :- N1 is N0 + 1, '$lists_len'(T, N1, N).

nth0(I, L, E) :- '$lists_nth'(L, 0, I, E).
nth1(I, L, E) :- '$lists_nth'(L, 1, I, E).
'$lists_nth'([H|_], B, B, H).
'$lists_nth'([_|T], B0, I, E) :- B1 is B0 + 1, '$lists_nth'(T, B1, I, E).

reverse(L, R) :- '$lists_rev'(L, [], R).
'$lists_rev'([], A, A).
'$lists_rev'([H|T], A, R) :- '$lists_rev'(T, [H|A], R).

select(X, [X|T], T).
select(X, [H|T], [H|R]) :- select(X, T, R).

last([X], X).
last([_|T], X) :- last(T, X).

sum_list(L, S) :- '$lists_sum'(L, 0, S).
'$lists_sum'([], S, S).
'$lists_sum'([X|T], S0, S) :- S1 is S0 + X, '$lists_sum'(T, S1, S).

max_list([H|T], M) :- '$lists_max'(T, H, M).
'$lists_max'([], M, M).
'$lists_max'([H|T], M0, M) :- M1 is max(M0, H), '$lists_max'(T, M1, M).

min_list([H|T], M) :- '$lists_min'(T, H, M).
'$lists_min'([], M, M).
'$lists_min'([H|T], M0, M) :- M1 is min(M0, H), '$lists_min'(T, M1, M).
