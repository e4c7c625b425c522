"""A report's steps: every analysis run over the studied pairs, aggregated with intervals, from the gate to report.json."""
