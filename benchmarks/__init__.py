"""The project's benchmarks: every figure of the Speed issue against a baseline measured in the
same run. Run `python -m benchmarks` (all, < 5 min) or `python -m benchmarks --quick` (a smoke)."""
