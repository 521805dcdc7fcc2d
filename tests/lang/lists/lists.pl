% Lists: member/2, append/3, length/2, function symbols in heads.
:- use_module(library(lists)).
item(X) :- member(X, [apple, pear, plum]).
split(A, B) :- append(A, B, [1, 2, 3]).
len(N) :- length([a, b, c, d], N).
wrap(X, box(X)) :- item(X).
query(item(_)).
query(split(_, _)).
query(len(_)).
query(wrap(pear, _)).
