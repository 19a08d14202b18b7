"""Benchmarks that print figures (``python -m bench --help``). Never timed assertions."""
