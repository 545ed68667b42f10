"""The measurements of tools/benchmark.py, one module each, and what they share (common, flops, training)."""
