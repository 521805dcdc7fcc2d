p([a, b) :- true.
