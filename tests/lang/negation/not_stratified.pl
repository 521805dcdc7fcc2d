% Stratified negation with \+ and not/1 over probabilistic facts.
0.7::bird(tweety).
0.2::penguin(tweety).
0.9::bird(polly).
flies(X) :- bird(X), \+ penguin(X).
grounded(X) :- bird(X), not(flies(X)).
penguin(polly) :- fail.
query(flies(tweety)).
query(flies(polly)).
query(grounded(tweety)).
