"""Statistics a reader can act on: intervals, paired tests, rank intervals, calibration, power."""
