"""Fairness: group table, bars with intervals, live curves, threshold explorer and runs compared."""
