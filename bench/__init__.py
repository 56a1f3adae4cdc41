"""Benchmarks: not tests, their figures depend on the machine. See each module's docstring."""
