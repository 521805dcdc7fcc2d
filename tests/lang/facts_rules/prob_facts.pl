% Probabilistic facts feeding a conjunction and a rule with two proofs.
0.6::rain.
0.3::sprinkler.
0.9::wind.
wet :- rain.
wet :- sprinkler.
storm :- rain, wind.
query(wet).
query(storm).
query(rain).
