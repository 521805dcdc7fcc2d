% Plain facts and rules: deterministic derivations.
parent(ann, bob).
parent(bob, carl).
parent(bob, dora).
parent(carl, emma).
grandparent(X, Z) :- parent(X, Y), parent(Y, Z).
sibling(X, Y) :- parent(P, X), parent(P, Y), X \== Y.
query(grandparent(_, _)).
query(sibling(carl, _)).
