% Disjunction in bodies, nested inside a conjunction, and if-then-else.
0.5::a. 0.4::b. 0.3::c.
x :- a ; b.
y :- (a ; b), c.
z :- (a -> b ; c).
query(x).
query(y).
query(z).
