"""Interpretability reports (direct logit attribution, activation patching) for models that pass fk-bench's filter."""
