% between/3, findall/3, unification and structural comparison.
pick(X) :- between(1, 4, X).
all_picks(L) :- findall(X, pick(X), L).
same(X) :- pick(X), X = 2.
differ(X) :- pick(X), X \= 2, X \== 3.
query(pick(_)).
query(all_picks(_)).
query(same(_)).
query(differ(_)).
