"""Helpers of tools/benchmark.py: shared plumbing, child-process measurements, FLOP counting, time to quality."""
