"""Benchmarks: the API against direct PostgREST (the limit) and a naive peer (the usual way), in one run.

`make bench` (`python -m bench`) writes bench/results/*.json and docs/performance.md.
"""
