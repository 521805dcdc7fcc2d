edge(a, b).
query(pth(a, b)).
