"""Benchmarks: ``python -m benchmarks.<name> --help``. Each prints medians and can write JSON."""
