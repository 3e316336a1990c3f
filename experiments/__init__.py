"""Benchmarks and ablations; each script writes its results to `experiments/results/`."""
