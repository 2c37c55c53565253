"""Benchmarks of qfilter against its peers and hand-written code (issue #6).

Run them all with ``bash benchmarks/run`` from the top of a checkout: that
makes ``benchmarks/.venv``, installs qfilter and the peers there, runs every
measure and rewrites ``docs/performance.md`` and ``docs/performance.png``.
``python -m benchmarks --help`` lists the options (sizes, which measures).
"""
