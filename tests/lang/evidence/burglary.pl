% The alarm network with evidence: conditional probabilities P(q | e).
0.7::burglary.
0.2::earthquake.
0.9::p_alarm1.
0.8::p_alarm2.
0.1::p_alarm3.
alarm :- burglary, earthquake, p_alarm1.
alarm :- burglary, \+ earthquake, p_alarm2.
alarm :- \+ burglary, earthquake, p_alarm3.
evidence(alarm, true).
query(burglary).
query(earthquake).
