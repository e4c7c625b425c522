"""Corruptions of a clean prompt, and the roles of its tokens.

Two corruptions (:data:`CORRUPTIONS`):

- ``twin``: the pair's false twin, the same question with the object swapped (the dataset's
  ``corrupted_question``). Where the two prompts tokenize to different lengths (the objects have
  different token counts), positions are aligned by role instead of skipped (:func:`align`): the
  text before and after the object is the same in both, so every token there maps to the token at
  the same place in the other prompt; object tokens map first to first and last to last (those in
  between proportionally); the last position maps to the last. Patching then writes each clean
  activation at its aligned corrupted position (:func:`align_sites`).
- ``noise``: ROME's corruption (Meng et al. 2022, "Locating and Editing Factual Associations in
  GPT"): Gaussian noise added to the token embeddings of one span of the clean prompt itself (the
  object, where the twin differs, or the subject; :data:`NOISE_SPANS`), so nothing needs a twin of
  the same length. The noise is seeded per pair (:func:`pair_seed`) and its scale is
  ``factor`` (3, as in ROME) x the embedding std (:func:`noise_scale`): the population standard
  deviation of every coordinate of the embedding module's output (Gemma's sqrt(d_model) scale
  included, GPT-2's position embeddings excluded), pooled over every token of the tokenizer's
  vocabulary by default (a constant of the model, so relations and models compare), or over given
  tokens (ROME pooled its subjects' tokens). :class:`NoiseScale` records which.

Token roles (:func:`token_roles`) come from the question's subject and object text and the
tokenizer's character offsets, for every prompt format (plain, few-shot, chat): ``prefix``
(everything before the question: BOS, system prompt, few-shot examples), ``subject``, ``object``,
``relation`` (the question's other words), ``suffix`` (after the question: "\\n", the chat
template's tail) and ``last`` (the final position, whatever its text).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from fk_bench.errors import FkBenchError
from fk_bench.prompts import encode_batch
from interp.core.model import InterpModel
from interp.defaults import DEFAULT_NOISE_FACTOR, NOISE_SPANS

ROLES: tuple[str, ...] = ("prefix", "subject", "relation", "object", "suffix", "last")

Span = tuple[int, int]
"""Characters ``[begin, end)``."""


# --------------------------------------------------------------------------------------------------
# Where the subject and object are in a question


_STOP = set(" \t\n?!,;:")


def differing_span(text: str, other: str) -> Span:
    """The characters of ``text`` where it differs from ``other`` (their common prefix and suffix
    removed), widened to whole words (up to whitespace or ``?!,;:``). Empty (begin == end) when equal."""
    if text == other:
        return (len(text), len(text))
    begin = 0
    while begin < min(len(text), len(other)) and text[begin] == other[begin]:
        begin += 1
    end, other_end = len(text), len(other)
    while end > begin and other_end > begin and text[end - 1] == other[other_end - 1]:
        end, other_end = end - 1, other_end - 1
    while begin > 0 and text[begin - 1] not in _STOP:
        begin -= 1
    while end < len(text) and text[end] not in _STOP:
        end += 1
    return (begin, end)


def _occurrences(text: str, needle: str) -> list[Span]:
    found, lowered, low_needle = [], text.lower(), needle.lower()
    for haystack, wanted in ((text, needle), (lowered, low_needle)):
        at = haystack.find(wanted)
        while at >= 0:
            if (at, at + len(needle)) not in found:
                found.append((at, at + len(needle)))
            at = haystack.find(wanted, at + 1)
        if found:
            break
    return found


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def question_spans(question: str, subject: str | None, obj: str | None, twin: str | None = None) -> tuple[Span | None, Span | None]:
    """(subject, object) character spans in ``question`` (None where not found).

    The object is the occurrence of ``obj`` that overlaps where the question differs from its
    ``twin`` (the first occurrence without a twin); without ``obj`` (or when it is not in the
    question), the differing words themselves. The subject is the first occurrence of ``subject``
    (exact case first, then any case) outside the object ("Is Luxembourg the capital of Luxembourg?").
    """
    differs = differing_span(question, twin) if twin else None
    object_span: Span | None = None
    if obj:
        candidates = _occurrences(question, obj)
        if differs is not None and differs[0] < differs[1]:
            candidates = [span for span in candidates if _overlaps(span, differs)] or candidates
        object_span = candidates[0] if candidates else None
    if object_span is None and differs is not None and differs[0] < differs[1]:
        object_span = differs
    subject_span: Span | None = None
    if subject:
        outside = [span for span in _occurrences(question, subject) if object_span is None or not _overlaps(span, object_span)]
        subject_span = outside[0] if outside else None
    return subject_span, object_span


# --------------------------------------------------------------------------------------------------
# Token roles


@dataclass(frozen=True)
class TokenRoles:
    """The role of each token of a prompt (:data:`ROLES`), the tokens' character offsets in the prompt,
    and where the question, subject and object are (characters of the prompt; None where absent)."""

    prompt: str
    roles: tuple[str, ...]
    offsets: tuple[Span, ...]
    question: Span
    subject: Span | None
    object: Span | None

    def __len__(self) -> int:
        return len(self.roles)

    def positions(self, *roles: str) -> tuple[int, ...]:
        """The positions whose role is one of ``roles``, in order."""
        return tuple(i for i, role in enumerate(self.roles) if role in roles)

    def labels(self) -> list[str]:
        """One label per position: the role, with first/last for multi-token subject and object spans
        (ROME's "last subject token" is where its traces peak)."""
        out = []
        for i, role in enumerate(self.roles):
            members = self.positions(role) if role in ("subject", "object") else ()
            if len(members) > 1 and i == members[0]:
                out.append(f"{role} (first)")
            elif len(members) > 1 and i == members[-1]:
                out.append(f"{role} (last)")
            else:
                out.append(role)
        return out

    def to_json(self) -> dict:
        return {"roles": list(self.roles), "question_chars": list(self.question), "subject_chars": self.subject, "object_chars": self.object}


def token_offsets(tokenizer: Any, prompt: str, tokens: Sequence[int]) -> list[Span]:
    """Character offsets of ``tokens`` (the prompt's ids as :func:`fk_bench.prompts.encode` gives them)
    in ``prompt``, from the tokenizer's offset mapping; special tokens it adds get ``(0, 0)``."""
    if not getattr(tokenizer, "is_fast", False):
        raise FkBenchError(
            f"token roles: the tokenizer of {getattr(tokenizer, 'name_or_path', 'this model')} has no character offsets (not a fast tokenizer)"
        )
    (ids,), spans = encode_batch(tokenizer, [prompt], offsets=True)
    if spans is None or ids != list(tokens):
        raise FkBenchError(f"token roles: the tokenizer's offsets do not cover the prompt's tokens ({prompt[:60]!r}...)")
    return [(int(a), int(b)) for a, b in spans[0]]


def token_roles(
    tokenizer: Any,
    prompt: str,
    tokens: Sequence[int],
    question: str,
    subject: str | None = None,
    obj: str | None = None,
    twin: str | None = None,
) -> TokenRoles:
    """The role of every token of ``prompt`` (its ids ``tokens``), which contains ``question`` (the last
    occurrence: few-shot examples come before it). ``subject``/``obj`` are the dataset's texts and
    ``twin`` the question's corrupted twin (see :func:`question_spans`). A token overlapping the object
    is ``object``, else overlapping the subject ``subject``; the final position is ``last``."""
    where = prompt.rfind(question)
    if where < 0:
        raise FkBenchError(f"token roles: the question {question!r} is not in its prompt (did the chat template change its text?)")
    subject_span, object_span = question_spans(question, subject, obj, twin)
    shift = lambda span: None if span is None else (span[0] + where, span[1] + where)
    q_span, s_span, o_span = (where, where + len(question)), shift(subject_span), shift(object_span)
    offsets = token_offsets(tokenizer, prompt, tokens)
    roles = []
    for a, b in offsets:
        token = (a, max(b, a + 1)) if b == a else (a, b)  # a special token without text sits at its offset
        if o_span is not None and _overlaps(token, o_span) and b > a:
            roles.append("object")
        elif s_span is not None and _overlaps(token, s_span) and b > a:
            roles.append("subject")
        elif b > a and _overlaps(token, q_span):
            roles.append("relation")
        elif a < q_span[0] or (b == a and a == q_span[0]):  # a special token without text at the question's start is BOS
            roles.append("prefix")
        else:
            roles.append("suffix")
    for i, (a, b) in enumerate(offsets):  # a lone space token before a span is that span's leading space
        for span, role in ((o_span, "object"), (s_span, "subject")):
            if span is not None and b > a and b == span[0] and not prompt[a:b].strip():
                roles[i] = role
    roles[-1] = "last"
    return TokenRoles(prompt, tuple(roles), tuple(offsets), q_span, s_span, o_span)


# --------------------------------------------------------------------------------------------------
# Alignment by role (twin corruption, prompts of different lengths)


@dataclass(frozen=True)
class Alignment:
    """Positions of a clean and a corrupted prompt aligned by role.

    ``to_clean[j]``: the clean position whose activation patching writes at corrupted position ``j``;
    ``to_corrupted[i]``: the corrupted position of clean position ``i``. Identity maps when the prompts
    have the same length and the same roles position by position (``by_role`` False)."""

    to_clean: tuple[int, ...]
    to_corrupted: tuple[int, ...]
    by_role: bool

    def to_json(self) -> dict:
        return {"by_role": self.by_role, "to_clean": list(self.to_clean), "to_corrupted": list(self.to_corrupted)}


def _shared_prefix(a: TokenRoles, b: TokenRoles) -> int:
    n = 0
    while n < min(len(a), len(b)) and a.offsets[n] == b.offsets[n] and a.prompt[slice(*a.offsets[n])] == b.prompt[slice(*b.offsets[n])]:
        n += 1
    return n


def _differing(target: TokenRoles, source: TokenRoles) -> tuple[Span, Span]:
    """Where the two prompts differ: the object spans when both have one (and the rest is the same
    text), else the differing characters of the prompts."""
    if target.object is not None and source.object is not None:
        (t0, t1), (s0, s1) = target.object, source.object
        if target.prompt[:t0] == source.prompt[:s0] and target.prompt[t1:] == source.prompt[s1:]:
            return target.object, source.object
    t0 = 0
    while t0 < min(len(target.prompt), len(source.prompt)) and target.prompt[t0] == source.prompt[t0]:
        t0 += 1
    t1, s1 = len(target.prompt), len(source.prompt)
    while t1 > t0 and s1 > t0 and target.prompt[t1 - 1] == source.prompt[s1 - 1]:
        t1, s1 = t1 - 1, s1 - 1
    return (t0, t1), (t0, s1)


def _token_at(offsets: Sequence[Span], char: int) -> int:
    """The token covering ``char`` (the next one where offsets leave a gap, the last past the end)."""
    starts = [a for a, _ in offsets]
    i = bisect.bisect_right(starts, char) - 1
    while i >= 0 and offsets[i][1] <= offsets[i][0]:
        i -= 1  # skip tokens without text
    if i >= 0 and offsets[i][0] <= char < offsets[i][1]:
        return i
    later = [k for k, (a, b) in enumerate(offsets) if a > char and b > a]
    return later[0] if later else len(offsets) - 1


def _map(target: TokenRoles, source: TokenRoles, shared: int) -> tuple[int, ...]:
    """For each position of ``target``, the aligned position of ``source``."""
    (t0, t1), (s0, s1) = _differing(target, source)
    t_obj, s_obj = target.positions("object"), source.positions("object")
    out = []
    for j, (a, b) in enumerate(target.offsets):
        if j == len(target) - 1:
            out.append(len(source) - 1)
        elif j < shared:
            out.append(j)
        elif target.roles[j] == "object" and s_obj:
            rank, m, k = t_obj.index(j), len(t_obj), len(s_obj)
            out.append(s_obj[round(rank * (k - 1) / (m - 1))] if m > 1 else s_obj[-1])
        else:
            char = b - 1 if b > a else a
            if char >= t1:
                char = char - t1 + s1
            elif char >= t0:
                char = s0 + min(char - t0, max(s1 - s0 - 1, 0))
            out.append(_token_at(source.offsets, char))
    for j in range(1, len(out)):  # monotone: a role never maps before the previous one
        out[j] = max(out[j], out[j - 1])
    return tuple(min(i, len(source) - 1) for i in out)


def align(clean: TokenRoles, corrupted: TokenRoles) -> Alignment:
    """Align the positions of a clean prompt and its corrupted twin by role (see the module docstring)."""
    if clean.roles == corrupted.roles:
        identity = tuple(range(len(clean)))
        return Alignment(identity, identity, by_role=False)
    shared = _shared_prefix(clean, corrupted)
    return Alignment(_map(corrupted, clean, shared), _map(clean, corrupted, shared), by_role=True)


def align_sites(clean: Mapping[str, torch.Tensor], alignment: Alignment, start: int) -> dict[str, torch.Tensor]:
    """Clean activations ``{site: [layer, clean_pos - start, ...]}`` (positions ``start..``, e.g.
    :func:`interp.patching.activation_patching.clean_sites`) re-indexed to the corrupted positions: ``[layer, corrupted_pos - start, ...]``,
    each corrupted position holding its aligned clean position's activation. ``start`` is the shared
    prefix, which every alignment keeps in place."""
    index = torch.tensor([i - start for i in alignment.to_clean[start:]])
    if (index < 0).any():
        raise ValueError(f"alignment maps a position after the shared prefix ({start}) into it")
    return {name: acts.index_select(1, index.to(acts.device)) for name, acts in clean.items()}


# --------------------------------------------------------------------------------------------------
# Noise (ROME)


@dataclass(frozen=True)
class NoiseScale:
    """The noise's standard deviation, ``scale = factor x std``, and what the std was measured on."""

    std: float
    factor: float
    basis: str  # "vocabulary" or "given tokens"
    n_tokens: int

    @property
    def scale(self) -> float:
        return self.factor * self.std

    def to_json(self) -> dict:
        return {
            "embedding_std": self.std,
            "factor": self.factor,
            "scale": self.scale,
            "std_over": self.basis,
            "n_tokens": self.n_tokens,
            "definition": "population std of every coordinate of the embedding module's output (Gemma's scale included, "
            "position embeddings excluded), pooled over the tokens",
        }


@torch.no_grad()
def embedding_std(model: InterpModel, token_ids: Sequence[int] | None = None, chunk: int = 16384) -> tuple[float, int]:
    """(std, number of tokens): the population std of every coordinate of the embedding module's output
    over ``token_ids`` (default: every token of the tokenizer that has an embedding row), in float64."""
    embed = model.bridge.embed.original_component
    n_rows = int(embed.weight.shape[0])
    ids = torch.arange(min(len(model.tokenizer), n_rows)) if token_ids is None else torch.tensor(list(token_ids), dtype=torch.long)
    if ids.numel() == 0:
        raise FkBenchError("noise scale: no tokens to measure the embedding std on")
    total = squares = 0.0
    count = 0
    for first in range(0, ids.numel(), chunk):
        values = embed(ids[first : first + chunk][None].to(embed.weight.device)).double()
        total += float(values.sum())
        squares += float(values.pow(2).sum())
        count += values.numel()
    mean = total / count
    return max(squares / count - mean * mean, 0.0) ** 0.5, int(ids.numel())


def noise_scale(model: InterpModel, factor: float = DEFAULT_NOISE_FACTOR, token_ids: Sequence[int] | None = None) -> NoiseScale:
    """ROME's noise scale for ``model``: ``factor`` x :func:`embedding_std` (over the vocabulary, or ``token_ids``)."""
    std, n = embedding_std(model, token_ids)
    return NoiseScale(std, factor, "vocabulary" if token_ids is None else "given tokens", n)


def pair_seed(seed: int, key: str) -> int:
    """A seed of its own for each pair (``key``, e.g. its pair id) from the report's ``seed``: the same
    pair gets the same noise whatever else is studied with it."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "little") & (2**63 - 1)


@dataclass(frozen=True)
class Noise:
    """Gaussian noise on the token embeddings at absolute ``positions``: ``values`` ``[len(positions), d_model]``."""

    positions: tuple[int, ...]
    values: torch.Tensor
    scale: NoiseScale
    seed: int
    span: str

    @property
    def start(self) -> int:
        """The first noised position: the runs are identical before it."""
        return min(self.positions)

    def hook(self, offset: int = 0) -> tuple[str, Any]:
        """A forward hook adding the noise to ``hook_embed`` (the embedding module's output) of a forward
        whose first position is ``offset`` (after a prefix cache of ``offset`` positions); every batch row gets it."""

        def add(x: torch.Tensor, hook: Any) -> torch.Tensor:
            delta = torch.zeros_like(x[0])
            for row, position in enumerate(self.positions):
                if offset <= position < offset + x.shape[1]:
                    delta[position - offset] = self.values[row].to(device=x.device, dtype=x.dtype)
            return x + delta

        return ("hook_embed", add)

    def to_json(self) -> dict:
        return {"span": self.span, "positions": list(self.positions), "seed": self.seed, **self.scale.to_json()}


def make_noise(model: InterpModel, positions: Sequence[int], scale: NoiseScale, seed: int, span: str = "custom") -> Noise:
    """Seeded noise ``N(0, scale.scale^2)`` for each coordinate of each position's embedding (drawn on the CPU: the same on every device)."""
    if not positions:
        raise FkBenchError(f"noise: the {span} span has no tokens")
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(len(positions), int(model.bridge.cfg.d_model), generator=generator, dtype=torch.float32) * scale.scale
    return Noise(tuple(int(p) for p in positions), values, scale, seed, span)


def noise_for(model: InterpModel, roles: TokenRoles, span: str, scale: NoiseScale, seed: int, key: str) -> Noise:
    """The noise of one pair: on its ``span`` tokens (:data:`NOISE_SPANS`), seeded by :func:`pair_seed` (``seed``, ``key``)."""
    if span not in NOISE_SPANS:
        raise FkBenchError(f"noise span {span!r}: choose one of {', '.join(NOISE_SPANS)}")
    positions = roles.positions(span)
    if not positions:
        raise FkBenchError(f"noise: no {span} tokens found in {roles.prompt[slice(*roles.question)]!r} (pair {key})")
    return make_noise(model, positions, scale, pair_seed(seed, key), span)
