"""halloc's analysis: allocbench results JSON -> figures, the paper comparison, a leaderboard.

Modules: load (the one loader and its schema checks), summary (per-cell statistics, allocator
order and colours), figures (one pure function per figure), leaderboard (score arithmetic and
rendering), paper (the Hoard ASPLOS 2000 comparison). The CLI is `python3 -m analysis`.
"""
