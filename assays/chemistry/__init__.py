"""Pure chemistry: atomic weights, oxide factors and (later) censored sums, purity and rounding.

Nothing here imports Django or touches the database.
"""
