% Probabilistic rules: each ground instance is an independent choice.
person(ann). person(bob).
0.3::stress(X) :- person(X).
0.2::influences(ann, bob).
0.4::smokes(X) :- stress(X).
smokes(X) :- influences(Y, X), smokes(Y).
query(smokes(ann)).
query(smokes(bob)).
