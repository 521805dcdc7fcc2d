% Datalog aggregates over deterministic goals: count, sum, min, max.
score(ann, 7). score(bob, 3). score(carl, 9). score(dora, 3).
n_players(N) :- aggregate_all(count, score(_, _), N).
total(S) :- aggregate_all(sum(X), score(_, X), S).
best(M) :- aggregate_all(max(X), score(_, X), M).
worst(M) :- aggregate_all(min(X), score(_, X), M).
query(n_players(_)).
query(total(_)).
query(best(_)).
query(worst(_)).
