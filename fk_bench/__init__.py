"""fk-bench: factual yes/no questions scored by grouped answer tokens, as an lm-eval task and a native evaluator."""

__version__ = "0.1.0"
