% Two fair dice as annotated disjunctions; odd/even and sums.
1/6::die(A, 1); 1/6::die(A, 2); 1/6::die(A, 3); 1/6::die(A, 4); 1/6::die(A, 5); 1/6::die(A, 6) :- dice(A).
dice(1).
dice(2).
odd(X) :- die(X, Y), Y mod 2 =:= 1.
even(X) :- dice(X), \+ odd(X).
sum(S) :- die(1, A), die(2, B), S is A + B.
double :- die(1, X), die(2, X).
query(odd(1)).
query(even(2)).
query(sum(7)).
query(sum(2)).
query(double).
