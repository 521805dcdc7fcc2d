a.
/* a comment that never ends
b.
