"""Study pairs: one clean and one corrupted run per pair feed DLA, attribution patching and exact patching.

Pairs with the same shared prefix and token lengths run together as one batch: the prefixes once,
then the clean batch is recorded once (DLA, the clean activations every patching grid needs,
attention patterns) and the corrupted batch runs once forward and once backward (attribution
patching of every cell), both over the positions from the first difference on only. Exact patching
then runs for the pairs chosen for it, from the clean activations and prefix already in memory.

Pairs where position-by-position patching against a token twin does not apply (noise corruption, or
a twin of another token length) get the clean run alone: DLA, logit lens and attention patterns; their
patching comes from causal tracing (:mod:`interp.patching.tracing`), aligned by role.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from interp.attribution.dla import Direction, QuestionDLA, attention_patterns, dla_hooks, question_dla
from interp.core.answer_tokens import METRICS, AnswerTokens, normalize
from interp.core.model import SITES, InterpModel
from interp.core.runner import cache_row, gradient_run, prefix_cache, record, site_activations
from interp.core.studied_pairs import Pair, shared_prefix_length
from interp.patching.activation_patching import attribution_grids, exact_grids

DEFAULT_BATCH = 16
"""Pairs per batch of clean (and of corrupted) runs."""


@dataclass
class PairStudy:
    """Everything measured on one pair. Grids are ``[layer, cell]``: cells are the positions from the
    shared prefix's end (``pair.shared_prefix``) to the last, or the heads for head_out; normalized so
    that 0 = the corrupted run, 1 = the clean run."""

    pair: Pair
    clean: dict[str, float]  # metric -> value on the clean run
    corrupted: dict[str, float] | None  # None: no token twin was run (noise corruption)
    dla: QuestionDLA
    attribution: dict[str, np.ndarray] | None  # site -> estimate of the normalized log_odds; None: no position-by-position twin
    exact: dict[str, dict[str, np.ndarray]] | None = None  # metric -> site -> normalized grid
    exact_method: str | None = None  # "layer sweeps" or "full forwards" (interp.patching.activation_patching.exact_grids)
    patterns: np.ndarray | None = None  # [layer, head, query, key] on the clean prompt: queries from ``patterns_start``, every key
    patterns_start: int = 0

    def drop(self, metric: str = "log_odds") -> float:
        """How much the corruption lowers ``metric`` (the normalizing denominator)."""
        if self.corrupted is None:
            raise ValueError(f"pair {self.pair.pair_id}: no token twin was run")
        return self.clean[metric] - self.corrupted[metric]

    def to_json(self) -> dict:
        return {
            **self.pair.to_json(),
            "clean": self.clean,
            "corrupted": self.corrupted,
            "dla": self.dla.to_json(),
            "attribution_log_odds": None if self.attribution is None else {site: grid.tolist() for site, grid in self.attribution.items()},
            "exact": None if self.exact is None else {m: {s: g.tolist() for s, g in grids.items()} for m, grids in self.exact.items()},
            "exact_method": self.exact_method,
            "patterns_start": self.patterns_start,
        }


def _batches(pairs: Sequence[Pair], size: int, shape: Callable[[Pair], Any]) -> list[list[Pair]]:
    """Pairs of the same ``shape`` (e.g. shared prefix length and token length: their prefixes run as one
    batch, then their suffixes), in batches of ``size``."""
    groups: dict[Any, list[Pair]] = defaultdict(list)
    for pair in pairs:
        groups[shape(pair)].append(pair)
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
    twin_patching: bool = True,
) -> list[PairStudy]:
    """Study every pair; exact patching for the pairs whose ids are in ``exact_ids``, attention patterns
    for those in ``pattern_ids``. Returns the studies in the order of ``pairs``; adds the time of each
    stage to ``seconds`` when given. Without ``twin_patching`` (noise corruption), and for pairs whose
    twin has another token length, only the clean run (and the twin's, for its metrics) is studied.

    Each batch runs its shared prefixes once (batched); the clean and the corrupted runs then continue
    from those keys and values over the positions from the first difference on, the only positions
    where the two runs differ.
    """
    clock = _Clock(seconds if seconds is not None else {})
    bar = tqdm(total=len(pairs), desc=f"interp {model.name}", unit="pair", disable=not progress)
    run = _Batches(model, answers, answers.id_tensor(model.device), Direction.of(model, answers), pattern_ids, clock, bar)
    patchable = [pair for pair in pairs if twin_patching and pair.same_length]
    others = [pair for pair in pairs if not (twin_patching and pair.same_length)]
    studies = {**_study_unpatched(run, others, batch_size, twin_patching), **_study_patched(run, patchable, batch_size, exact_ids)}
    bar.close()
    return [studies[pair.pair_id] for pair in pairs]


@dataclass
class _Batches:
    """What every batch of :func:`study_pairs` shares."""

    model: InterpModel
    answers: AnswerTokens
    ids: Any  # the answer words' token ids, a tensor on the model's device
    direction: Direction
    pattern_ids: set[str]
    clock: _Clock
    bar: Any  # tqdm's progress bar


def _study_unpatched(run: _Batches, others: Sequence[Pair], batch_size: int, twin_patching: bool) -> dict[str, PairStudy]:
    """The pairs without exact or attribution patching (noise corruption, twins of another length): clean runs and
    DLA, batched by token length after their common prefix; the twin's own forward for its metrics (twin corruption)."""
    model, answers, ids, clock = run.model, run.answers, run.ids, run.clock
    studies: dict[str, PairStudy] = {}
    # Their clean prompts share a prefix (the chat template's system prompt, the few-shot examples): run it once.
    common = min([shared_prefix_length(others[0].clean_tokens, p.clean_tokens) for p in others] + [p.n_tokens - 1 for p in others]) if others else 0
    with clock("prefixes"):
        shared = prefix_cache(model, model.tensor(others[0].clean_tokens), common) if common > 0 else None
    for batch in _batches(others, batch_size, lambda pair: pair.n_tokens):  # clean prompts of one token length
        with clock("clean runs and DLA"):
            with_patterns = any(pair.pair_id in run.pattern_ids for pair in batch)
            kv = None
            if shared is not None:
                kv = copy.deepcopy(shared)
                kv.batch_repeat_interleave(len(batch))
            suffixes = model.tensor([p.clean_tokens[common:] for p in batch])
            clean_logits, cache, unembedded = record(model, suffixes, dla_hooks(with_patterns), ids, kv)
            dla_rows = question_dla(model, cache, unembedded, run.direction, answers)
            patterns = {row: attention_patterns(cache, model.n_layers, row) for row, pair in enumerate(batch) if pair.pair_id in run.pattern_ids}
            del cache
        clean_m = answers.metrics(clean_logits)
        twin_m: list[dict[str, np.ndarray]] | None = None
        if twin_patching:  # a twin of another length: its own forward, for the drop that normalizes its tracing
            with clock("corrupted runs"):
                twin_m = [answers.metrics(record(model, model.tensor([p.corrupted_tokens]), lambda name: False, ids)[0]) for p in batch]
        for row, pair in enumerate(batch):
            clean = {m: float(clean_m[m][row]) for m in METRICS}
            corrupted = None if twin_m is None else {m: float(twin_m[row][m][0]) for m in METRICS}
            studies[pair.pair_id] = PairStudy(pair, clean, corrupted, dla_rows[row], None, patterns=patterns.get(row), patterns_start=common)
            run.bar.update(1)
    return studies


def _study_patched(run: _Batches, patchable: Sequence[Pair], batch_size: int, exact_ids: set[str]) -> dict[str, PairStudy]:
    """The pairs with a same-length twin: clean runs and DLA, the corrupted run with attribution patching, batched by
    shared prefix and length; exact patching of the pairs in ``exact_ids``."""
    model, answers, ids, clock = run.model, run.answers, run.ids, run.clock
    studies: dict[str, PairStudy] = {}
    for batch in _batches(patchable, batch_size, lambda pair: (pair.shared_prefix, pair.n_tokens)):
        start = batch[0].shared_prefix
        with clock("prefixes"):
            prefix = prefix_cache(model, model.tensor([p.clean_tokens for p in batch]), start)
        with clock("clean runs and DLA"):
            with_patterns = any(pair.pair_id in run.pattern_ids for pair in batch)
            clean_logits, cache, unembedded = record(
                model, model.tensor([p.clean_tokens[start:] for p in batch]), dla_hooks(with_patterns), ids, prefix
            )
            dla_rows = question_dla(model, cache, unembedded, run.direction, answers)
            clean_acts = {site: site_activations(cache, model.n_layers, site) for site in SITES}
            patterns = {row: attention_patterns(cache, model.n_layers, row) for row, pair in enumerate(batch) if pair.pair_id in run.pattern_ids}
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
            normalized = {site: grid / drop for site, grid in raw.items()}
            study = PairStudy(pair, clean, corrupted, dla_rows[row], normalized, patterns=patterns.get(row), patterns_start=start)
            if pair.pair_id in exact_ids:
                with clock("exact patching"):
                    exact = exact_grids(model, pair.corrupted_tokens, row_acts, start, ids, prefix=cache_row(prefix, row))
                values = {site: answers.metrics(logits) for site, logits in exact.grids.items()}
                study.exact = {m: {site: normalize(values[site][m], clean[m], corrupted[m]) for site in SITES} for m in METRICS}
                study.exact_method = exact.method
            studies[pair.pair_id] = study
            run.bar.update(1)
    return studies


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


# --------------------------------------------------------------------------------------------------
# Causal tracing and attention knockout, by token role


ROLE_COLUMNS: tuple[str, ...] = (
    "prefix",
    "subject first",
    "subject",
    "subject last",
    "relation",
    "object first",
    "object",
    "object last",
    "suffix",
    "last",
)
"""Where a position sits in its prompt, so that pairs of different lengths (and models) share columns: the
subject's and object's first and last tokens (a one-token span is its own last), their middle tokens, the
question's other words (relation), what comes before the question (prefix) and after it (suffix), the last position."""


def role_columns(roles: Any) -> list[str]:
    """The :data:`ROLE_COLUMNS` name of each position of an :class:`interp.core.corruption.TokenRoles`."""
    out = []
    for position, role in enumerate(roles.roles):
        if role in ("subject", "object"):
            members = roles.positions(role)
            out.append(f"{role} last" if position == members[-1] else f"{role} first" if position == members[0] else role)
        else:
            out.append(role)
    return out


def clean_token_roles(model: InterpModel, pair: Pair) -> Any:
    """The token roles of a pair's clean prompt (:func:`interp.core.corruption.token_roles`)."""
    from interp.core.corruption import token_roles

    return token_roles(model.tokenizer, pair.clean_prompt, pair.clean_tokens, pair.clean_question, pair.subject, pair.object, pair.corrupted_question)


@dataclass
class PairTrace:
    """Causal tracing of one pair: normalized grids ``{site: [layer, position]}`` over the traced run's
    ``positions`` (absolute; earlier ones are exactly 0), the role column of every position of that run,
    and what the corruption was (noise, or the twin aligned by role)."""

    pair_id: str
    grids: dict[str, np.ndarray]
    positions: tuple[int, ...]
    columns: list[str]
    drop: float  # clean - corrupted log_odds: the normalizing denominator, and the pair's weight in means
    detail: dict

    def by_role(self) -> dict[str, np.ndarray]:
        """Each grid as ``[layer, role column]``: the mean over the role's positions (0 for the positions before
        the corruption, where restoring changes nothing; positions after it that were not traced do not count),
        NaN for a role the prompt does not have."""
        out = {}
        first = min(self.positions)
        for site, grid in self.grids.items():
            full = np.zeros((grid.shape[0], len(self.columns)))
            full[:, first:] = np.nan
            full[:, list(self.positions)] = grid
            table = np.full((grid.shape[0], len(ROLE_COLUMNS)), np.nan)
            for j, name in enumerate(ROLE_COLUMNS):
                members = [i for i, column in enumerate(self.columns) if column == name and np.isfinite(full[0, i])]
                if members:
                    table[:, j] = full[:, members].mean(1)
            out[site] = table
        return out

    def to_json(self) -> dict:
        return {
            "positions": list(self.positions),
            "columns": self.columns,
            "drop": self.drop,
            "grids": {site: np.round(grid, 6).tolist() for site, grid in self.grids.items()},
            **self.detail,
        }


TRACE_GRID_NAMES = {"resid_pre": "resid", "attn_out": "attn", "mlp_out": "mlp", "resid_pre, mlp_out severed": "resid_mlp_severed"}


def trace_pairs(
    model: InterpModel,
    studies: Sequence[PairStudy],
    traced: set[str],
    answers: AnswerTokens,
    corruption: str,
    noise_span: str = "object",
    scale: Any = None,
    seed: int = 0,
    sever: bool = True,
    progress: bool = False,
    sites: Sequence[str] = ("resid_pre", "attn_out", "mlp_out"),
    role_ends_only: bool = False,
) -> list[PairTrace]:
    """Causal tracing of the studies whose pair ids are in ``traced``, every column a token role.

    ``noise``: ROME's tracing (:func:`interp.patching.tracing.trace`) on the clean prompt with seeded noise on the
    ``noise_span`` tokens (``scale``: an :class:`interp.core.corruption.NoiseScale`), MLP-severed grid
    included when ``sever``; ``sites``: the states restored (resid_pre, attn_out, mlp_out); with
    ``role_ends_only``, only the first and last position of each run of one role (and the last position)
    are traced, the positions in between are not (:func:`role_ends`). ``twin``: exact
    patching of ``sites`` into the twin's run (:func:`interp.patching.activation_patching.exact_grids`),
    clean activations aligned to the twin's positions by role (:func:`interp.core.corruption.align`) where
    the lengths differ; a pair already patched exactly reuses its grids.
    """
    from interp.core.corruption import noise_for
    from interp.patching.tracing import trace

    ids = answers.id_tensor(model.device)
    out = []
    chosen = [study for study in studies if study.pair.pair_id in traced]
    for study in tqdm(chosen, desc=f"causal tracing ({corruption})", unit="pair", disable=not progress):
        pair = study.pair
        clean_roles = clean_token_roles(model, pair)
        if corruption != "noise":
            out.append(_twin_trace(model, study, clean_roles, answers, ids, sites))
            continue
        noise = noise_for(model, clean_roles, noise_span, scale, seed, pair.pair_id)
        ends = role_ends(clean_roles.roles, noise.start) if role_ends_only else None
        grids = trace(model, pair.clean_tokens, noise, ids, sites=sites, positions=ends, sever=("mlp_out",) if sever else ())
        normalized = grids.normalized(answers.log_odds)
        drop = float(answers.log_odds(grids.clean.double())) - float(answers.log_odds(grids.noised.double()))
        detail = {"corruption": "noise", "trace": grids.to_json(), "closure": float(answers.log_odds(grids.restored.double()))}
        out.append(PairTrace(pair.pair_id, normalized, grids.positions, role_columns(clean_roles), drop, detail))
    return out


def _twin_trace(model: InterpModel, study: PairStudy, clean_roles: Any, answers: AnswerTokens, ids: Any, sites: Sequence[str]) -> PairTrace:
    """Twin tracing of one pair: exact patching of ``sites`` into the twin's run, clean activations aligned to the
    twin's positions by role where the lengths differ; a pair already patched exactly reuses its grids."""
    from interp.core.corruption import align, align_sites, token_roles
    from interp.patching.activation_patching import clean_sites, exact_grids

    pair = study.pair
    twin_roles = token_roles(
        model.tokenizer,
        pair.corrupted_prompt,
        pair.corrupted_tokens,
        pair.corrupted_question,
        pair.subject,
        pair.corrupted_object,
        pair.clean_question,
    )
    start = pair.shared_prefix
    positions = tuple(range(start, len(pair.corrupted_tokens)))
    assert study.corrupted is not None
    if study.exact is not None:  # a same-length pair patched exactly: its grids are the tracing grids
        normalized = {site: study.exact["log_odds"][site] for site in sites}
        detail: dict[str, Any] = {"corruption": "twin", "aligned_by_role": False, "reused": "exact patching"}
    else:
        alignment = align(clean_roles, twin_roles)
        _, cache, _ = record(model, model.tensor([pair.clean_tokens]), _site_filter(model.n_layers), ids)
        clean = clean_sites(cache, model.n_layers, start, sites=tuple(sites))
        del cache
        if alignment.by_role:
            clean = align_sites(clean, alignment, start)
        exact = exact_grids(model, pair.corrupted_tokens, clean, start, ids, sites=tuple(sites))
        values = {site: answers.metrics(logits)["log_odds"] for site, logits in exact.grids.items()}
        normalized = {site: normalize(values[site], study.clean["log_odds"], study.corrupted["log_odds"]) for site in values}
        detail = {"corruption": "twin", "aligned_by_role": alignment.by_role, "alignment": alignment.to_json(), "method": exact.method}
    drop = study.clean["log_odds"] - study.corrupted["log_odds"]
    return PairTrace(pair.pair_id, normalized, positions, role_columns(twin_roles), drop, detail)


def role_ends(roles: Sequence[str], start: int) -> list[int]:
    """Positions from ``start`` on that begin or end a run of one role, and the last: where tracing by role
    looks (a chat template's tail or a long relation phrase is traced at its two ends, not token by token)."""
    n = len(roles)
    return [p for p in range(start, n) if p in (start, n - 1) or roles[p] != roles[p - 1] or roles[p] != roles[p + 1]]


def _site_filter(n_layers: int) -> Any:
    from interp.core.model import site_hook

    names = {site_hook(site, layer) for site in ("resid_pre", "attn_out", "mlp_out") for layer in range(n_layers)}
    return lambda name: name in names


@dataclass
class PairKnockout:
    """Attention knockout of one pair: the relative drop of p(True) per target role and window centre."""

    pair_id: str
    drop: dict[str, np.ndarray]  # role -> [layer]: (clean - knocked) / clean of p(True answer group); positive = the answer drops
    window: int
    detail: dict

    def to_json(self) -> dict:
        return {"window": self.window, "relative_drop": {role: np.round(v, 6).tolist() for role, v in self.drop.items()}, **self.detail}


def knockout_pairs(
    model: InterpModel, studies: Sequence[PairStudy], answers: AnswerTokens, window: int | None = None, progress: bool = False
) -> list[PairKnockout]:
    """Attention knockout (:func:`interp.patching.knockout.knockout`) of every study's clean prompt: the last position
    blocked from the subject, object and relation tokens over a window of layers around each layer."""
    import torch

    from interp.patching.knockout import knockout, knockout_targets

    ids = answers.id_tensor(model.device)
    p_true = lambda logits: torch.sigmoid(answers.log_odds(logits))
    out = []
    for study in tqdm(studies, desc="attention knockout", unit="pair", disable=not progress):
        pair = study.pair
        roles = clean_token_roles(model, pair)
        grids = knockout(model, pair.clean_tokens, knockout_targets(roles), ids, window)
        drop = {role: -change for role, change in grids.relative_change(p_true).items()}
        out.append(PairKnockout(pair.pair_id, drop, grids.window, grids.to_json()))
    return out
