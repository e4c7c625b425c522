"""The answer words as single tokens after the prompt, and the metrics of their logits.

Interp reads the answer groups off one position (the prompt's last), so it uses the words that are
one token there; words the tokenizer splits are listed as skipped in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fk_bench.answers import AnswerGroups
from fk_bench.errors import FkBenchError
from fk_bench.metrics import true_vs_false
from fk_bench.prompts import encode

METRICS: tuple[str, ...] = ("log_odds", "logit_diff")
"""The patching metrics, read for the True answer (the clean question of every pair is true):
``log_odds`` = log(p_True group / p_False group), ``logit_diff`` = mean True-word logit minus mean False-word logit."""


@dataclass(frozen=True)
class AnswerTokens:
    """The answer words that are one token after the prompt, their token ids, and the words skipped."""

    words: tuple[str, ...]
    ids: tuple[int, ...]
    is_true_word: tuple[bool, ...]
    skipped: tuple[str, ...]

    def id_tensor(self, device: str | torch.device = "cpu") -> torch.Tensor:
        return torch.tensor(self.ids, dtype=torch.long, device=device)

    def to_json(self) -> dict:
        return {"words": list(self.words), "ids": list(self.ids), "is_true_word": list(self.is_true_word), "skipped_multi_token": list(self.skipped)}

    def log_odds(self, answer_logits: torch.Tensor) -> torch.Tensor:
        """log(p_True / p_False) of answer logits ``[..., n_words]`` (differentiable; fk_bench.metrics' definition)."""
        return true_vs_false(answer_logits, self.is_true_word)

    def logit_diff(self, answer_logits: torch.Tensor) -> torch.Tensor:
        is_true = torch.tensor(self.is_true_word, device=answer_logits.device)
        return answer_logits[..., is_true].mean(-1) - answer_logits[..., ~is_true].mean(-1)

    def metrics(self, answer_logits: torch.Tensor) -> dict[str, np.ndarray]:
        """Both :data:`METRICS` as float64 arrays of shape ``answer_logits.shape[:-1]``."""
        logits = answer_logits.detach().double().cpu()
        return {"log_odds": self.log_odds(logits).numpy(), "logit_diff": self.logit_diff(logits).numpy()}


def single_token_answers(tokenizer: Any, prompts: Sequence[str], groups: AnswerGroups) -> AnswerTokens:
    """Words of ``groups`` that encode to exactly one token after every prompt (and the same token)."""
    bases = [encode(tokenizer, prompt) for prompt in prompts]
    words, ids, is_true, skipped = [], [], [], []
    for word, true in zip(groups.words, groups.is_true_word):
        tokens = set()
        for prompt, base in zip(prompts, bases):
            full = encode(tokenizer, prompt + word)
            tokens.add(tuple(full[len(base) :]) if full[: len(base)] == base else ())
        if len(tokens) == 1 and len(next(iter(tokens))) == 1:
            words.append(word)
            ids.append(next(iter(tokens))[0])
            is_true.append(true)
        else:
            skipped.append(word)
    if not any(is_true) or all(is_true):
        raise FkBenchError(
            f"answer words: both groups need a word that is one token after the prompt (one token: {words or 'none'}; skipped: {skipped})"
        )
    return AnswerTokens(tuple(words), tuple(ids), tuple(is_true), tuple(skipped))


def normalize(values: np.ndarray, clean: np.ndarray | float, corrupted: np.ndarray | float) -> np.ndarray:
    """0 = the corrupted run, 1 = the clean run."""
    return (np.asarray(values, dtype=np.float64) - corrupted) / (np.asarray(clean) - corrupted)
