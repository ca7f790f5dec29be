"""Pure statistics for run QC: control-chart baselines, Westgard rules and their SVG charts.

Nothing here imports Django or touches the database.
"""
