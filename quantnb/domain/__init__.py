"""Domain values and rules: no I/O, no pandas beyond timestamps."""
