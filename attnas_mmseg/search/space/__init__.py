"""The search space: candidates, Eq. (1)'s mixed op, Eq. (2)'s attention
layers, the search modes, the architecture parameters and the spec grammar."""
