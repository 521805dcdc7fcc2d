% Annotated disjunctions: a fair die and a biased coin.
1/6::die(1); 1/6::die(2); 1/6::die(3); 1/6::die(4); 1/6::die(5); 1/6::die(6).
0.6::coin(heads); 0.4::coin(tails).
high :- die(X), X > 4.
win :- high, coin(heads).
query(die(_)).
query(high).
query(win).
