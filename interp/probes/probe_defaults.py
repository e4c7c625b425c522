"""The probe command's defaults and file names, in one place (no numpy or torch: the command line reads it)."""

N_FOLDS = 5
"""Cross-validation folds over pairs (sklearn GroupKFold: both questions of a pair on one side)."""
LOGISTIC_C = 1.0
"""Inverse L2 strength of the logistic probe (on standardized features)."""
MAX_ITER = 2000
STEERING_QUESTIONS = 200
"""Questions steered in the causal check (the first pairs in data order, both members)."""
STEERING_SCALE = 1.0
"""Steering adds this multiple of the mass-mean direction (1: the class-mean distance, Marks & Tegmark's scale)."""
GATHER_BATCH = 64
"""Prompts per forward pass when gathering activations."""
POSITIONS: tuple[str, ...] = ("last", "object")
"""Where activations are read: the prompt's last token, and the object's last token."""
PROBES: tuple[str, ...] = ("logistic", "mass_mean")
KNOWS_MARGIN = 0.0
"""A relation "knows but does not say" when the gap's interval lies above this."""
PROBE_JSON = "probe.json"
PROBE_HTML = "probe.html"
ACTIVATIONS_DIR = "activations"
"""Under --out/<run>/: one float16 .npy per position, ``[layer, question, d_model]`` (memory-mapped when read)."""
