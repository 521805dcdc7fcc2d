0.6::heads; 0.5::tails.
query(heads).
