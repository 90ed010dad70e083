"""Randomization lists and allocations (filled by the randomization work)."""
