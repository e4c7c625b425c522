"""interp's defaults and enumerations, in one place: what ``fk-bench report`` does unless told otherwise.

Imported by the command line (no numpy, pandas or torch here: ``fk-bench --help`` reads it) and by the
modules that use each value; nothing else defines them.
"""

GATE_METRICS = ("paired_accuracy", "accuracy", "auroc")
"""Metrics a gate may use: shares in [0, 1] where higher is better."""
DEFAULT_GATE_METRIC = "paired_accuracy"
DEFAULT_GATE_THRESHOLD = 0.6
DEFAULT_PAIR_MARGIN = 1.0
"""Nats of log-odds by which the true question must beat its twin for the pair to be studied."""
DEFAULT_MAX_PAIRS = 50
DEFAULT_MAX_PAIRS_PER_RELATION = 20
"""``--relation all``: pairs per relation when ``--max-pairs`` is not given (intervals over 20 pairs, minutes per model)."""
DEFAULT_EXACT_PAIRS = 5
DEFAULT_EXACT_PAIRS_LARGE = 2
LARGE_MODEL_PARAMETERS = 1_000_000_000
"""Exact patching costs about 10 TFLOP a pair on a 1.5B model with a chat prompt (minutes on a 2-core
CPU): models of this many parameters or more get :data:`DEFAULT_EXACT_PAIRS_LARGE` exact pairs by default."""
DEFAULT_TOP_K = 3
TRACE_SITES: tuple[str, ...] = ("resid_pre", "attn_out", "mlp_out")
"""States causal tracing restores (and the MLP-severed grid beside them)."""
DEFAULT_KNOCKOUT_PAIRS_LARGE = 5
"""Models of 1B parameters or more: attention knockout on this many pairs per section (largest margin first); about
20 s a pair for a 1.5B model with a chat prompt on one busy CPU core. Smaller models: every studied pair."""
DEFAULT_TRACE_PAIRS_LARGE = 3
"""Models of 1B parameters or more: causal tracing of the residual stream alone (a third of the cells) on this many
pairs per section, so that its intervals come from 3 pairs at about the cost of one pair's three grids: a chat prompt's
trace on a 1.5B model is about 4.5 TFLOP for the three grids (minutes on a 2-core CPU)."""
ALL_RELATIONS = "all"
"""``--relation all``: one section per relation the model passes the gate on."""
CORRUPTIONS: tuple[str, ...] = ("twin", "noise")
"""``twin``: the corrupted run is the false twin's prompt (the object swapped); ``noise``: the clean prompt with
Gaussian noise on the token embeddings of one span (ROME's causal tracing, Meng et al. 2022)."""
NOISE_SPANS: tuple[str, ...] = ("object", "subject")
"""Where noise goes: the object (where the twin differs) or the subject."""
DEFAULT_NOISE_FACTOR = 3.0
"""Noise scale when none is given: this many standard deviations of the model's token embeddings (ROME's 3)."""
DEFAULT_SEED = 0
"""Seeds the noise and the bootstrap's resampling (recorded in report.json)."""
N_RESAMPLES = 1000
"""Bootstrap resamples per interval: the percentile ends of 1,000 resamples move by about 0.01 of the spread between seeds."""
CONFIDENCE = 0.95

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
DID_NOT_PASS_JSON = "did_not_pass.json"
"""The files of a report folder ``OUT/<run>/``: the page and its numbers, or why the model was not studied."""
