% Quoted atoms, strings, negative numbers and floats as constants.
label('New York', "city").
label(paris, "city").
temp('New York', -3).
temp(paris, 4.5).
cold(X) :- temp(X, T), T < 0.
query(label(_, _)).
query(cold(_)).
