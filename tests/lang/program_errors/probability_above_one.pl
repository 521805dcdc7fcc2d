0.5::rain.
1.2::sprinkler.
query(sprinkler).
