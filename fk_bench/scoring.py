"""Scoring answer words: log P(word | prompt) for every prompt and word, batched for speed.

A word's score is lm-eval's log-likelihood of the continuation ``delimiter + word`` after the context,
minus that of the bare ``delimiter``: with the plain prompt "Q\\n" this is exactly log P(word | "Q\\n"),
summed over the word's tokens when the tokenizer splits it. Context and continuation are encoded
exactly as lm-eval's HFLM encodes them, so the lm-eval task reports the same numbers.

Where the time goes, and what avoids it:

- **One encoding per prompt.** The ids of prompt + word are derived from the prompt's own encoding,
  the boundary merge of its last token with each word encoded once per distinct last token and checked
  against a full encoding (:func:`fk_bench.prompts.encode_continuations`).
- **One forward row per question.** A row holds the question's tokens and, after them, the leading
  tokens of every answer word that the tokenizer splits ("Absol"+"utely"), each word's tokens seeing
  the question and their own word only (a tree-shaped attention mask, explicit position ids). All
  words of a question are scored by that one row: no second pass over the prompt per split word.
- **A shared prefix runs once.** Few-shot examples and chat system prompts make every prompt start
  with the same tokens. Those token ids (taken from each prompt's own full encoding, so they are
  exactly HFLM's) run once; their keys and values are reused by every batch.
- **No padding; batches built once per shape.** Questions whose rows have one length and whose words
  encode alike share positions, mask and targets: a batch is a slice of one token matrix, built (and,
  on CUDA, pinned and copied without blocking) in a worker thread while the previous batch computes.
- **Only what is needed from the vocabulary.** The final hidden states of the scored positions meet
  the unembedding in vocabulary chunks: per chunk a logsumexp (the normalizer) and the few answer-word
  logits, never a [positions, vocabulary] log-softmax (with a 262k vocabulary that was most of the time).
  A model whose output head this does not reproduce (checked once per run) is scored from its logits.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import inspect
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fk_bench.errors import FkBenchError
from fk_bench.metrics import relative_to_delimiter
from fk_bench.prompts import encode_continuations, split_context
from fk_bench.spec import BATCH_SIZE_AUTO as AUTO
from fk_bench.spec import DEFAULT_BATCH_SIZE, BatchSize

if TYPE_CHECKING:
    from fk_bench.models import LoadedModel

_MASKED_IMPLEMENTATIONS = ("sdpa", "eager")

MAX_AUTO_BATCH_SIZE = 4096
"""The largest batch ``auto`` picks: beyond it a GPU gains nothing on rows of ~20 tokens."""
AUTO_MEMORY_FRACTION = 0.8
"""Share of the device's free memory ``auto`` plans to use (the rest for the allocator's fragmentation)."""
DEFAULT_MAX_QUESTION_TOKENS = 512
"""Tokens a question may read of its own (its row: the prompt after the prefix shared with the other
prompts, and split words' leading tokens). A packaged question reads 8-30; a 100,000-character one
(25,000 tokens) would run for minutes at gigabytes, so it is refused before any forward pass."""
HEAD_CHUNK_ELEMENTS = {"cpu": 1 << 19, "cuda": 1 << 26}
"""Logits computed at once by the vocabulary-chunked head: on the CPU a [positions, chunk] block per torch
thread that stays in its cache (2 MB of float32); on a GPU 256 MB, one or a few blocks per batch."""

MIN_HEAD_CHUNK = 1024
"""Fewest vocabulary rows per chunk (fewer would cost more in calls than they save in cache misses)."""


@dataclass
class ScoredPrompts:
    """What :func:`score_answer_words` returns; unpacks as ``scores, n_tokens``."""

    scores: np.ndarray  # [prompts, words]: log P(word | prompt)
    n_tokens: np.ndarray  # [prompts, words]: tokens of each word after the delimiter's
    batch_size: int  # the batch size used (``auto`` resolved)
    prompt_tokens: list[list[int]]  # each prompt's context ids, exactly HFLM's

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.scores, self.n_tokens))


@dataclass
class _Layout:
    """What follows a question's context, shared by every question whose continuations encode alike.

    ``shared`` ends the question's base (tokens every continuation starts with); each continuation's
    ``remainder`` follows it. A row appends ``lead`` (every split word's tokens but its last), each
    lead token in the ``segment`` of its word at position base length + ``offset`` (each word's tokens
    continue the question: a tree); ``targets`` are (column, kept index, token) for every scored token,
    kept index 0 being the base's last position and 1.. the lead tokens.
    """

    shared: list[int]
    remainders: list[list[int]]
    lead: list[int] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    offset: list[int] = field(default_factory=list)
    targets: list[tuple[int, int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, continuations: Sequence[Sequence[int]]) -> _Layout:
        shared = _common_prefix_length(continuations)
        layout = cls(list(continuations[0][:shared]), [list(c[shared:]) for c in continuations])
        for column, remainder in enumerate(layout.remainders):
            if not remainder:
                continue
            layout.targets.append((column, 0, remainder[0]))  # first token: read at the base's last position
            for t, token in enumerate(remainder[1:]):
                layout.targets.append((column, 1 + len(layout.lead) + t, token))
            layout.segment += [len(layout.lead)] * (len(remainder) - 1)  # any id unique to this word, >= 0
            layout.offset += range(len(remainder) - 1)
            layout.lead += remainder[:-1]
        return layout


@dataclass
class _Plan:
    """One question's tokens: the base every continuation starts with (context + layout.shared), and its layout."""

    base: list[int]
    layout: int  # index into the layouts of this run


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        if len({s[i] for s in sequences}) > 1:
            return i
    return shortest


def _namer(names: Sequence[Any] | None, n: int) -> Callable[[int], str]:
    if names is None:
        return str
    if len(names) != n:
        raise ValueError(f"{len(names)} names for {n} prompts")
    return lambda i: str(names[i])


def _plans(
    tokenizer: Any, prompts: Sequence[str], words: Sequence[str], names: Sequence[Any] | None = None
) -> tuple[list[_Plan], list[_Layout], list[list[int]]]:
    """Each prompt's plan, the distinct layouts, and each prompt's context ids, as HFLM encodes them:
    the context, then ``context + delimiter + word`` for the bare delimiter (column 0, see
    metrics.relative_to_delimiter) and each word, minus the context's tokens."""
    name = _namer(names, len(prompts))
    for i, prompt in enumerate(prompts):
        if not split_context(prompt)[0]:
            raise FkBenchError(f"question {name(i)}: the prompt is empty")
    contexts, continuations = encode_continuations(tokenizer, prompts, ("", *words))
    layouts: list[_Layout] = []
    index: dict[tuple[tuple[int, ...], ...], int] = {}
    plans = []
    for i, (context, continuation) in enumerate(zip(contexts, continuations)):
        if continuation not in index:
            for word, tokens in zip(words, continuation[1:]):
                if not tokens:
                    raise FkBenchError(f"answer word {word!r} encodes to no tokens after question {name(i)}")
            index[continuation] = len(layouts)
            layouts.append(_Layout.of(continuation))
        layout = index[continuation]
        plans.append(_Plan(context + layouts[layout].shared, layout))
    return plans, layouts, contexts


def shared_prefix(bases: Sequence[Sequence[int]]) -> tuple[list[int], list[bool]]:
    """The token prefix that saves the most tokens when run once, and which sequences start with it.

    Walks down the token trie along the most common next token, scoring each depth by the tokens it
    saves, ``length x (sequences sharing it - 1)``; a sequence that leaves the path runs without the
    prefix. Every sequence keeps at least one token after the prefix (its last position is scored).
    Even plain prompts gain: most share "<bos>Is" (BENCHMARKS.md, evaluator section).
    """
    alive = list(range(len(bases)))
    prefix: list[int] = []
    best_saved, best_length = 0, 0
    while alive:
        depth = len(prefix)
        counts = Counter(bases[i][depth] for i in alive if len(bases[i]) > depth + 1)
        if not counts:
            break
        token, count = counts.most_common(1)[0]
        alive = [i for i in alive if len(bases[i]) > depth + 1 and bases[i][depth] == token]
        prefix.append(token)
        if len(prefix) * (count - 1) > best_saved:
            best_saved, best_length = len(prefix) * (count - 1), len(prefix)
    prefix = prefix[:best_length]
    return prefix, [bool(prefix) and list(base[:best_length]) == prefix for base in bases]


@dataclass
class _Group:
    """Questions whose rows have one shape: the same start (after the prefix or not), base length and
    layout, hence the same positions, mask and targets. ``tokens`` holds their rows, one per question."""

    with_prefix: bool
    layout: _Layout
    positions: list[int]
    questions: np.ndarray
    tokens: np.ndarray

    @property
    def keep(self) -> int:
        """Positions scored at the end of each row: the base's last token and the lead tokens."""
        return len(self.layout.lead) + 1


def _groups(plans: Sequence[_Plan], layouts: Sequence[_Layout], prefix_length: int, starts_with: Sequence[bool]) -> list[_Group]:
    members: dict[tuple[bool, int, int], list[int]] = {}
    for i, plan in enumerate(plans):
        members.setdefault((starts_with[i], len(plan.base), plan.layout), []).append(i)
    groups = []
    for (with_prefix, base_length, layout), questions in sorted(members.items()):
        start = prefix_length if with_prefix else 0
        lead = layouts[layout].lead
        tokens = np.array([plans[i].base[start:] + lead for i in questions], dtype=np.int64)
        positions = list(range(start, base_length)) + [base_length + offset for offset in layouts[layout].offset]
        groups.append(_Group(with_prefix, layouts[layout], positions, np.array(questions), tokens))
    return groups


def _layer_types(config: Any) -> list[str]:
    return list(getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers)


def _attention_masks(
    group: _Group, prefix_length: int, cached: dict[str, int], config: Any, dtype: torch.dtype, implementation: str, device: str
) -> Any:
    """The 4D masks [1, 1, new tokens, cached + new tokens] of a group's rows (the same for each row).

    A new token sees the cached prefix and the question's tokens up to itself; a word's token also
    sees its own word's earlier tokens. A sliding-window layer also needs ``query - key < window``
    and holds only the last ``cached[layer type]`` prefix tokens (transformers' sliding cache keeps
    ``window - 1``). One tensor when every layer type sees the same, else a dict by layer type.
    """
    positions = torch.tensor(group.positions, device=device)
    n = len(group.positions)
    segment = torch.tensor([-1] * (n - len(group.layout.lead)) + group.layout.segment, device=device)
    causal = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    new_visible = causal & ((segment[:, None] == segment[None, :]) | (segment[None, :] == -1))
    window = getattr(config, "sliding_window", None)

    def build(kept: int, sliding: bool) -> torch.Tensor:
        visible = torch.cat([new_visible.new_ones(n, kept), new_visible], dim=-1)
        if sliding and window:
            key_positions = torch.cat([torch.arange(prefix_length - kept, prefix_length, device=device), positions])
            visible &= positions[:, None] - key_positions[None, :] < window
        visible = visible[None, None]
        if implementation == "eager":  # an additive mask, as transformers' eager_mask makes it
            return torch.zeros((), dtype=dtype, device=device).masked_fill(~visible, torch.finfo(dtype).min)
        return visible

    masks = {kind: build(cached.get(kind, prefix_length), kind == "sliding_attention") for kind in set(_layer_types(config))}
    return masks.popitem()[1] if len(masks) == 1 else masks


@dataclass
class _Selection:
    """The targets whose tokens fall in one vocabulary chunk: their columns, kept indices and ids in the chunk."""

    start: int
    columns: torch.Tensor
    index: torch.Tensor
    local: torch.Tensor


class _Head:
    """log P(token) at scored positions from the final hidden states, without a [positions, vocabulary]
    log-softmax: the unembedding runs in vocabulary chunks, each giving a logsumexp (combined into the
    normalizer) and the logits of the targets that fall in it. Same rounding as the model's own head: the
    matmul (and Gemma's final soft-cap) in the model's dtype, the normalizer in float32."""

    def __init__(self, output: torch.nn.Linear, softcap: float | None, device: str) -> None:
        self.weight, self.bias, self.softcap = output.weight, output.bias, softcap
        self.vocabulary = output.weight.shape[0]
        self.kind = "cuda" if device.startswith("cuda") else "cpu"

    def chunk(self, positions: int) -> int:
        """Vocabulary rows per chunk for ``positions`` scored positions a batch."""
        elements = HEAD_CHUNK_ELEMENTS[self.kind] * (torch.get_num_threads() if self.kind == "cpu" else 1)  # a block per thread
        return min(self.vocabulary, max(MIN_HEAD_CHUNK, elements // max(positions, 1)))

    def selections(self, index: Sequence[int], tokens: Sequence[int], chunk: int) -> list[_Selection]:
        token_array, index_array = np.asarray(tokens, dtype=np.int64), np.asarray(index, dtype=np.int64)
        chosen = []
        for start in range(0, self.vocabulary, chunk):
            columns = np.flatnonzero((token_array >= start) & (token_array < start + chunk))
            if columns.size:
                tensors = (torch.from_numpy(a).to(self.weight.device) for a in (columns, index_array[columns], token_array[columns] - start))
                chosen.append(_Selection(start, *tensors))
        return chosen

    def __call__(self, hidden: torch.Tensor, index: torch.Tensor, chunk: int, selections: Sequence[_Selection], n_targets: int) -> torch.Tensor:
        """log P [rows, targets] from ``hidden`` [rows, kept positions, d_model]; ``index`` the kept position of each target."""
        rows, keep, _ = hidden.shape
        flat = hidden.reshape(rows * keep, -1)
        target = torch.empty(rows, n_targets, dtype=torch.float32, device=hidden.device)
        by_start = {s.start: s for s in selections}
        normalizers = []
        buffer = torch.empty(rows * keep, chunk, dtype=self.weight.dtype, device=hidden.device)  # reused: no allocation per chunk
        for start in range(0, self.vocabulary, chunk):
            width = min(chunk, self.vocabulary - start)
            logits = buffer if width == chunk else buffer.new_empty(rows * keep, width)
            weight = self.weight[start : start + width].T
            if self.bias is None:
                torch.mm(flat, weight, out=logits)
            else:
                torch.addmm(self.bias[start : start + width], flat, weight, out=logits)
            if self.softcap is not None:
                logits.div_(self.softcap).tanh_().mul_(self.softcap)
            values = logits.float()
            if (s := by_start.get(start)) is not None:
                target[:, s.columns] = values.view(rows, keep, -1)[:, s.index, s.local]
            # logsumexp in place (1.5x torch.logsumexp on the CPU, which allocates its exp(x - max))
            top = values.amax(dim=-1, keepdim=True)
            normalizers.append(values.sub_(top).exp_().sum(dim=-1).log_().add_(top.squeeze(-1)))
        normalizer = normalizers[0] if len(normalizers) == 1 else torch.logsumexp(torch.stack(normalizers, dim=-1), dim=-1)
        return target - normalizer.view(rows, keep)[:, index]


def _head(model: Any, config: Any, device: str) -> _Head | None:
    """The chunked head when the model's is a plain linear map (Gemma's final soft-cap included), else None."""
    output = model.get_output_embeddings()
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if not isinstance(output, torch.nn.Linear) or base is None or base is model:
        return None
    return _Head(output, getattr(config, "final_logit_softcapping", None), device)


@dataclass
class _Prepared:
    """A group's tensors on the device, built once before its batches (no host-to-device copy inside the loop)."""

    masks: Any
    positions: torch.Tensor
    index: torch.Tensor
    tokens: torch.Tensor
    chunk: int
    selections: list[_Selection]


class _Runner:
    """Runs batches of rows through the model, with the shared prefix's keys and values when there is one."""

    def __init__(self, model: Any, device: str, prefix: list[int], probe: list[int]) -> None:
        self.model, self.device, self.prefix_length = model, device, len(prefix)
        self.config = model.config.get_text_config()
        self.implementation = self.config._attn_implementation
        if self.implementation not in _MASKED_IMPLEMENTATIONS:
            raise FkBenchError(
                f"scoring needs an attention implementation that takes a custom mask ({', '.join(_MASKED_IMPLEMENTATIONS)}); "
                f"the model uses {self.implementation!r}"
            )
        self.cache_argument = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.base = getattr(model, model.base_model_prefix, None)
        self.head = _head(model, self.config, device)
        # One forward serves the prefix cache and the check of the chunked head (the head's input captured
        # by a hook): the prefix when there is one, else ``probe`` (a few tokens).
        captured: dict[str, torch.Tensor] = {}
        hook = self.head and model.get_output_embeddings().register_forward_hook(lambda module, args, output: captured.update(hidden=args[0]))
        try:
            output = model(input_ids=torch.tensor([prefix or probe], device=device), use_cache=bool(prefix), logits_to_keep=1)
        finally:
            if hook:
                hook.remove()
        if "hidden" not in captured or not self._head_agrees(captured["hidden"][:, -1:], output.logits[0, -1], prefix or probe):
            self.head = None
        self.prefix_cache: Any = None
        self.cached: dict[str, int] = {}
        if prefix:
            self.prefix_cache = output.cache if "cache" in output else output.past_key_values
            # Prefix tokens each layer type holds (a sliding-window layer keeps only the last few).
            self.cached = {kind: layer.keys.shape[-2] for kind, layer in zip(_layer_types(self.config), self.prefix_cache.layers)}
        self.prepared: dict[tuple[int, int], _Prepared] = {}

    def _head_agrees(self, hidden: torch.Tensor, logits: torch.Tensor, tokens_read: list[int]) -> bool:
        """Whether the chunked head, on the final hidden state ``hidden`` [1, 1, d_model], gives the model's own
        log-probs (from its ``logits``): a model that scales or shifts its logits in ways this module does not
        know is scored from its logits instead."""
        assert self.head is not None
        expected = torch.log_softmax(logits.float(), dim=-1)
        tokens = sorted({0, expected.shape[-1] - 1, *tokens_read[-4:], *expected.topk(8).indices.tolist()})
        chunk = self.head.chunk(1)
        index = torch.zeros(len(tokens), dtype=torch.long, device=self.device)
        got = self.head(hidden, index, chunk, self.head.selections([0] * len(tokens), tokens, chunk), len(tokens))[0]
        tolerance = 1e-4 if self.model.dtype == torch.float32 else 5e-2
        return bool(torch.allclose(got, expected[tokens], rtol=0, atol=tolerance))

    def _expanded_cache(self, batch: int) -> Any:
        """The prefix cache seen as ``batch`` rows, without copying it (the model concatenates new keys to a view)."""
        cache = copy.copy(self.prefix_cache)
        cache.layers = []
        for layer in self.prefix_cache.layers:
            layer = copy.copy(layer)
            layer.keys = layer.keys.expand(batch, -1, -1, -1)
            layer.values = layer.values.expand(batch, -1, -1, -1)
            cache.layers.append(layer)
        return cache

    def prepare(self, key: int, group: _Group, batch_size: int) -> _Prepared:
        """The tensors of ``group`` (``key`` names it) for batches of up to ``batch_size`` rows."""
        chunk = self.head.chunk(batch_size * group.keep) if self.head is not None else 0
        if (key, chunk) not in self.prepared:
            prefix_length = self.prefix_length if group.with_prefix else 0
            cached = self.cached if group.with_prefix else {}
            targets = group.layout.targets
            index, tokens = [t[1] for t in targets], [t[2] for t in targets]
            self.prepared[key, chunk] = _Prepared(
                masks=_attention_masks(group, prefix_length, cached, self.config, self.model.dtype, self.implementation, self.device),
                positions=torch.tensor([group.positions], device=self.device),
                index=torch.tensor(index, device=self.device),
                tokens=torch.tensor(tokens, device=self.device),
                chunk=chunk,
                selections=self.head.selections(index, tokens, chunk) if self.head is not None else [],
            )
        return self.prepared[key, chunk]

    def log_probs(self, prepared: _Prepared, group: _Group, input_ids: torch.Tensor) -> torch.Tensor:
        """log P(target) [rows, targets] for ``input_ids``, rows of ``group``."""
        rows = input_ids.shape[0]
        masks = prepared.masks
        masks = {k: m.expand(rows, -1, -1, -1) for k, m in masks.items()} if isinstance(masks, dict) else masks.expand(rows, -1, -1, -1)
        kwargs: dict[str, Any] = dict(
            input_ids=input_ids, position_ids=prepared.positions.expand(rows, -1), attention_mask=masks, use_cache=group.with_prefix
        )
        if group.with_prefix:
            kwargs[self.cache_argument] = self._expanded_cache(rows)
        if self.head is not None and self.base is not None:
            hidden = self.base(**kwargs).last_hidden_state[:, -group.keep :]
            return self.head(hidden, prepared.index, prepared.chunk, prepared.selections, len(group.layout.targets))
        logits = self.model(**kwargs, logits_to_keep=group.keep).logits.float()
        # log_softmax is one fused pass over the vocabulary (faster on the CPU than logsumexp's several).
        return torch.log_softmax(logits, dim=-1)[:, prepared.index, prepared.tokens]


def _batches(groups: Sequence[_Group], batch_size: int, device: str) -> Iterator[tuple[int, int, torch.Tensor]]:
    """(group, first row, input ids on the device) for every batch; on CUDA from pinned memory, copied
    without blocking (the copy overlaps the running batch)."""
    pin = device.startswith("cuda")
    for key, group in enumerate(groups):
        for start in range(0, len(group.questions), batch_size):
            ids = torch.from_numpy(group.tokens[start : start + batch_size])
            if pin:
                ids = ids.pin_memory()
            yield key, start, ids.to(device, non_blocking=pin)


def _prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each built by a worker thread while the consumer works on the previous one."""
    with ThreadPoolExecutor(1, thread_name_prefix="fk-bench-batches") as pool:
        done = object()
        future = pool.submit(next, items, done)
        while (item := future.result()) is not done:
            future = pool.submit(next, items, done)
            yield item


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def largest_batch_that_runs(candidate: int, run: Callable[[int], None], is_out_of_memory: Callable[[BaseException], bool] = _is_out_of_memory) -> int:
    """``candidate`` halved until ``run(batch size)`` fits in memory (as lm-eval's ``auto``), at least 1."""
    while True:
        try:
            run(candidate)
            return candidate
        except Exception as error:
            if candidate == 1 or not is_out_of_memory(error):
                raise
        candidate //= 2
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def batch_size_from_memory(free_bytes: int, bytes_per_row: float, rows: int) -> int:
    """The power of two of rows that fits :data:`AUTO_MEMORY_FRACTION` of ``free_bytes`` at ``bytes_per_row``,
    between 1 and :data:`MAX_AUTO_BATCH_SIZE` (and no more than the next power of two of ``rows``)."""
    fits = int(free_bytes * AUTO_MEMORY_FRACTION // max(bytes_per_row, 1.0))
    limit = min(MAX_AUTO_BATCH_SIZE, 1 << max(rows - 1, 0).bit_length())
    return max(1, 1 << (max(min(fits, limit), 1).bit_length() - 1))


def _auto_batch_size(runner: _Runner, groups: Sequence[_Group], device: str) -> int:
    """``auto``: on CUDA, the rows that fit in free memory, from the peak memory of a probe batch of the
    longest rows, confirmed by a trial batch at that size (halved until it fits); elsewhere the default."""
    if not device.startswith("cuda"):
        return DEFAULT_BATCH_SIZE
    key = max(range(len(groups)), key=lambda k: (len(groups[k].positions) + groups[k].with_prefix * runner.prefix_length, groups[k].keep))
    group = groups[key]
    rows = sum(len(g.questions) for g in groups)

    def run(batch: int) -> None:
        ids = torch.from_numpy(group.tokens[:1]).to(device).expand(batch, -1).contiguous()
        runner.log_probs(runner.prepare(key, group, batch), group, ids)
        torch.cuda.synchronize(device)

    probe = 8
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    run(probe)
    per_row = (torch.cuda.max_memory_allocated(device) - before) / probe
    return largest_batch_that_runs(batch_size_from_memory(free, per_row, rows), run)


@contextlib.contextmanager
def _garbage_collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the token lists are built (none of them is a cycle): a
    full collection over a process's objects (a loaded tokenizer holds 400,000) cost 0.3 s of 2.4 s on
    4,096 questions of the host-overhead benchmark."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def score_answer_words(
    loaded: LoadedModel,
    prompts: Sequence[str],
    words: Sequence[str],
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    share_prefix: bool = True,
    names: Sequence[Any] | None = None,
    max_question_tokens: int | None = DEFAULT_MAX_QUESTION_TOKENS,
) -> ScoredPrompts:
    """Scores [n_prompts, n_words] (log P(word | prompt)), token counts, the batch size used and each
    prompt's context ids; unpacks as ``scores, n_tokens``.

    ``batch_size="auto"`` takes what fits in the GPU's free memory (the default size elsewhere).
    ``share_prefix=False`` runs every prompt in full (the reference the prefix cache is tested against).
    ``names`` name the questions in errors (default: their index). Refused before any forward pass, by
    name: a question whose prompt and answer words do not fit the model's context, and one that reads
    more than ``max_question_tokens`` tokens of its own (None: no budget; see
    :data:`DEFAULT_MAX_QUESTION_TOKENS`).
    """
    if not (batch_size == AUTO or (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1)):
        raise FkBenchError(f"batch size {batch_size!r}: must be at least 1 or {AUTO!r}")
    tokenizer, model, device = loaded.tokenizer, loaded.model, loaded.device
    name = _namer(names, len(prompts))
    with _garbage_collector_paused():
        plans, layouts, contexts = _plans(tokenizer, prompts, words, names)
    context = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    for i, plan in enumerate(plans):
        needed = len(plan.base) + max(len(r) for r in layouts[plan.layout].remainders) - 1
        if context is not None and needed > context:
            raise FkBenchError(
                f"question {name(i)}: its prompt and answer words need {needed} tokens, more than the model's "
                f"context of {context} (max_position_embeddings)"
            )
    loglik = np.zeros((len(prompts), len(words) + 1), dtype=np.float64)
    n_tokens = np.array([[len(r) for r in layouts[plan.layout].remainders] for plan in plans], dtype=np.int64).reshape(len(plans), len(words) + 1)
    if not plans:
        return ScoredPrompts(
            relative_to_delimiter(loglik), n_tokens[:, 1:], batch_size if isinstance(batch_size, int) else DEFAULT_BATCH_SIZE, contexts
        )

    prefix, starts_with = shared_prefix([p.base for p in plans]) if share_prefix else ([], [False] * len(plans))
    if max_question_tokens is not None:
        for i, plan in enumerate(plans):
            own = len(plan.base) - (len(prefix) if starts_with[i] else 0) + len(layouts[plan.layout].lead)
            if own > max_question_tokens:
                raise FkBenchError(
                    f"question {name(i)}: {own} tokens of its own (prompt beyond what it shares with the others, and answer words), "
                    f"more than the budget of {max_question_tokens} per question (max_question_tokens); shorten it"
                )
    with _garbage_collector_paused():
        groups = _groups(plans, layouts, len(prefix), starts_with)

    bar = tqdm(total=len(plans), desc=f"scoring {loaded.name}", unit="q", disable=not progress)
    results = []
    with torch.inference_mode():
        runner = _Runner(model, device, prefix, plans[0].base[:2])
        size = _auto_batch_size(runner, groups, device) if batch_size == AUTO else int(batch_size)
        prepared = [runner.prepare(key, group, size) for key, group in enumerate(groups)]
        for key, start, input_ids in _prefetched(_batches(groups, size, device)):
            results.append((key, start, runner.log_probs(prepared[key], groups[key], input_ids)))
            bar.update(input_ids.shape[0])
    bar.close()
    for key, start, values in results:  # the one wait for the device, at the end
        group = groups[key]
        rows = group.questions[start : start + values.shape[0]]
        columns = [t[0] for t in group.layout.targets]
        np.add.at(loglik, (rows[:, None], np.asarray(columns)[None, :]), values.double().cpu().numpy())
    return ScoredPrompts(relative_to_delimiter(loglik), n_tokens[:, 1:], size, contexts)
