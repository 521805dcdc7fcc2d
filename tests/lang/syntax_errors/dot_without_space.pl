p(a) :- q(a).c.
