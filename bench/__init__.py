"""Benchmarks: runnable modules (`python -m bench.<name>`) that print ratios against ceilings
measured in the same run."""
