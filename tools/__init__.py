"""Tools around the package: benchmarks, the serving client, galleries and plots.

Each runs from the repository root as a script (`python tools/benchmark.py ...`) or as a module
(`python -m tools.benchmark ...`), and imports as `tools.<name>`.
"""
