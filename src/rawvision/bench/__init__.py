"""Benchmarks: commands of their own (``python -m rawvision.bench.table1``), never tests."""
