"""Study pairs: one clean and one corrupted run per pair feed DLA, attribution patching and exact patching.

Pairs with the same shared prefix and token lengths run together as one batch: the prefixes once,
then the clean batch is recorded once (DLA, the clean activations every patching grid needs,
attention patterns) and the corrupted batch runs once forward and once backward (attribution
patching of every cell), both over the positions from the first difference on only. Exact patching
then runs for the pairs chosen for it, from the clean activations and prefix already in memory.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from interp.answers import METRICS, AnswerTokens, normalize
from interp.dla import Direction, QuestionDLA, attention_patterns, dla_hooks, question_dla
from interp.model import SITES, InterpModel
from interp.pairs import Pair
from interp.patching import attribution_grids, exact_grids
from interp.runner import cache_row, gradient_run, prefix_cache, record, site_activations

DEFAULT_BATCH = 16
"""Pairs per batch of clean (and of corrupted) runs."""


@dataclass
class PairStudy:
    """Everything measured on one pair. Grids are ``[layer, cell]``: cells are the positions from the
    shared prefix's end (``pair.shared_prefix``) to the last, or the heads for head_out; normalized so
    that 0 = the corrupted run, 1 = the clean run."""

    pair: Pair
    clean: dict[str, float]  # metric -> value on the clean run
    corrupted: dict[str, float]
    dla: QuestionDLA
    attribution: dict[str, np.ndarray]  # site -> estimate of the normalized log_odds
    exact: dict[str, dict[str, np.ndarray]] | None = None  # metric -> site -> normalized grid
    exact_method: str | None = None  # "layer sweeps" or "full forwards" (interp.patching.exact_grids)
    patterns: np.ndarray | None = None  # [layer, head, query, key] on the clean prompt: queries from the shared prefix's end, every key

    def drop(self, metric: str = "log_odds") -> float:
        """How much the corruption lowers ``metric`` (the normalizing denominator)."""
        return self.clean[metric] - self.corrupted[metric]

    def to_json(self) -> dict:
        return {
            **self.pair.to_json(),
            "clean": self.clean,
            "corrupted": self.corrupted,
            "dla": self.dla.to_json(),
            "attribution_log_odds": {site: grid.tolist() for site, grid in self.attribution.items()},
            "exact": None if self.exact is None else {m: {s: g.tolist() for s, g in grids.items()} for m, grids in self.exact.items()},
            "exact_method": self.exact_method,
        }


def _batches(pairs: Sequence[Pair], size: int) -> list[list[Pair]]:
    """Pairs with the same shared prefix length and token length: their prefixes run as one batch, then their suffixes."""
    groups: dict[tuple[int, int], list[Pair]] = defaultdict(list)
    for pair in pairs:
        groups[pair.shared_prefix, pair.n_tokens].append(pair)
    return [members[i : i + size] for _, members in sorted(groups.items()) for i in range(0, len(members), size)]


def study_pairs(
    model: InterpModel,
    pairs: Sequence[Pair],
    answers: AnswerTokens,
    exact_ids: set[str],
    pattern_ids: set[str],
    batch_size: int = DEFAULT_BATCH,
    progress: bool = True,
    seconds: dict[str, float] | None = None,
) -> list[PairStudy]:
    """Study every pair; exact patching for the pairs whose ids are in ``exact_ids``, attention patterns
    for those in ``pattern_ids``. Returns the studies in the order of ``pairs``; adds the time of each
    stage to ``seconds`` when given.

    Each batch runs its shared prefixes once (batched); the clean and the corrupted runs then continue
    from those keys and values over the positions from the first difference on, the only positions
    where the two runs differ.
    """
    ids = answers.id_tensor(model.device)
    direction = Direction.of(model, answers)
    studies: dict[str, PairStudy] = {}
    clock = _Clock(seconds if seconds is not None else {})
    bar = tqdm(total=len(pairs), desc=f"interp {model.name}", unit="pair", disable=not progress)
    for batch in _batches(pairs, batch_size):
        start = batch[0].shared_prefix
        with clock("prefixes"):
            prefix = prefix_cache(model, model.tensor([p.clean_tokens for p in batch]), start)
        with clock("clean runs and DLA"):
            with_patterns = any(pair.pair_id in pattern_ids for pair in batch)
            clean_logits, cache, unembedded = record(
                model, model.tensor([p.clean_tokens[start:] for p in batch]), dla_hooks(with_patterns), ids, prefix
            )
            dla_rows = question_dla(model, cache, unembedded, direction, answers)
            clean_acts = {site: site_activations(cache, model.n_layers, site) for site in SITES}
            patterns = {row: attention_patterns(cache, model.n_layers, row) for row, pair in enumerate(batch) if pair.pair_id in pattern_ids}
            del cache
        with clock("corrupted runs and attribution patching"):
            corrupted_logits, corrupted_acts, grads = gradient_run(
                model, model.tensor([p.corrupted_tokens[start:] for p in batch]), ids, answers.log_odds, prefix=prefix
            )
        clean_m, corrupted_m = answers.metrics(clean_logits), answers.metrics(corrupted_logits)
        for row, pair in enumerate(batch):
            clean = {m: float(clean_m[m][row]) for m in METRICS}
            corrupted = {m: float(corrupted_m[m][row]) for m in METRICS}
            row_acts = {site: clean_acts[site][row] for site in SITES}
            raw = attribution_grids(row_acts, {s: a[row] for s, a in corrupted_acts.items()}, {s: g[row] for s, g in grads.items()})
            drop = clean["log_odds"] - corrupted["log_odds"]
            study = PairStudy(pair, clean, corrupted, dla_rows[row], {site: grid / drop for site, grid in raw.items()}, patterns=patterns.get(row))
            if pair.pair_id in exact_ids:
                with clock("exact patching"):
                    exact = exact_grids(model, pair.corrupted_tokens, row_acts, start, ids, prefix=cache_row(prefix, row))
                values = {site: answers.metrics(logits) for site, logits in exact.grids.items()}
                study.exact = {m: {site: normalize(values[site][m], clean[m], corrupted[m]) for site in SITES} for m in METRICS}
                study.exact_method = exact.method
            studies[pair.pair_id] = study
            bar.update(1)
    bar.close()
    return [studies[pair.pair_id] for pair in pairs]


class _Clock:
    """Adds the wall time of ``with clock(stage):`` blocks to ``seconds[stage]``."""

    def __init__(self, seconds: dict[str, float]):
        self.seconds = seconds

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - begin
