"""Compiled recurrences (numba only): no validation, I/O, random draws or printing here."""
