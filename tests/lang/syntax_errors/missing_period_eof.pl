p(a).
p(b)