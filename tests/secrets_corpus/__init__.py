"""Templates of the key-leak corpus and the helpers that fill them with fake keys at run time."""
