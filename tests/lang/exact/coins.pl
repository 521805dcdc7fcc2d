% Two biased coins; "someheads" if at least one lands heads.
0.5::heads1.
0.6::heads2.
someheads :- heads1.
someheads :- heads2.
twoheads :- heads1, heads2.
query(someheads).
query(twoheads).
