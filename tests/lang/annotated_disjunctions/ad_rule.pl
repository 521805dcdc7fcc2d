% An annotated disjunction with a body and variables.
weather(mon). weather(tue).
0.5::sun(D); 0.3::cloud(D) :- weather(D).
nice(D) :- sun(D).
nice(D) :- cloud(D).
query(nice(_)).
query(sun(mon)).
