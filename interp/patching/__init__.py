"""Causal interventions: exact and attribution patching, causal tracing and attention knockout."""
