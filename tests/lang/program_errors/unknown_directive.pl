:- foo(bar).
a.
query(a).
