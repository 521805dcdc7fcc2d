% Birds fly unless they are penguins or injured; conditioned on an observation.
0.1::penguin(tweety).
0.05::injured(tweety).
0.9::bird(tweety).
bird(X) :- penguin(X).
0.95::flies(X) :- bird(X), \+ penguin(X), \+ injured(X).
evidence(flies(tweety), false).
query(penguin(tweety)).
query(injured(tweety)).
query(bird(tweety)).
