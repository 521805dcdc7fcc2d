-0.3::rain.
query(rain).
