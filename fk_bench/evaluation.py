"""The native evaluator: scores every answer word for every question and writes results.

A word's score is lm-eval's log-likelihood of the continuation ``delimiter + word`` after the context,
minus that of the bare ``delimiter``: with the seed's prompt "Q\\n" this is exactly
log P(word | "Q\\n"), summed over the word's tokens when the tokenizer splits it. Context and
continuation are encoded exactly as lm-eval's HFLM encodes them, so the lm-eval task reports the same
numbers. Speed comes from batching equal-length prompts, unembedding only the positions scored, and
sharing one forward pass between all answer words of a question.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

import fk_bench
from fk_bench.answers import AnswerGroups
from fk_bench.data import fewshot_pool
from fk_bench.errors import FkBenchError
from fk_bench.files import write_atomic, write_json_atomic
from fk_bench.metrics import DEFAULT_FILTER_THRESHOLD, PER_QUESTION_METRICS, passes_filter, question_metrics, relative_to_delimiter, summarize
from fk_bench.models import LoadedModel
from fk_bench.prompts import build_prompt, encode, split_context


@dataclass
class _Item:
    """One scored continuation: which question/column it belongs to and its tokens after the shared prefix."""

    question: int
    column: int
    remainder: list[int]


@dataclass
class _Plan:
    """Token sequences for one question: the shared prefix and each continuation's remainder."""

    base: list[int]
    items: list[_Item] = field(default_factory=list)


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        if len({s[i] for s in sequences}) > 1:
            return i
    return shortest


def _plan(tokenizer: Any, question_index: int, prompt: str, words: Sequence[str]) -> _Plan:
    context, delimiter = split_context(prompt)
    if not context:
        raise FkBenchError(f"question {question_index}: the prompt is empty")
    context_enc = encode(tokenizer, context)
    # Column 0 is the bare delimiter (see metrics.relative_to_delimiter), then one column per word.
    continuations = [encode(tokenizer, context + delimiter + word)[len(context_enc):] for word in ("", *words)]
    for word, continuation in zip(words, continuations[1:]):
        if not continuation:
            raise FkBenchError(f"answer word {word!r} encodes to no tokens after question {question_index}")
    shared = _common_prefix_length(continuations)
    plan = _Plan(base=context_enc + continuations[0][:shared])
    for column, continuation in enumerate(continuations):
        plan.items.append(_Item(question_index, column, continuation[shared:]))
    return plan


@torch.inference_mode()
def _iter_logprobs(
    model: Any, sequences: Sequence[list[int]], keeps: Sequence[int], batch_size: int, device: str
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(index, log-probs [keep, vocab])`` for the last ``keep`` positions of every sequence.

    A batch holds sequences of one length and one ``keep``: no padding, and only the positions
    scored are unembedded (``logits_to_keep``), which matters with a 262k-word vocabulary.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, sequence in enumerate(sequences):
        groups.setdefault((len(sequence), keeps[i]), []).append(i)
    for (_, keep), members in sorted(groups.items()):
        for start in range(0, len(members), batch_size):
            batch = members[start:start + batch_size]
            input_ids = torch.tensor([sequences[i] for i in batch], dtype=torch.long, device=device)
            logits = model(input_ids=input_ids, logits_to_keep=keep, use_cache=False).logits
            logprobs = torch.log_softmax(logits[:, -keep:].float(), dim=-1)
            yield from zip(batch, logprobs)


def score_answer_words(
    loaded: LoadedModel,
    prompts: Sequence[str],
    words: Sequence[str],
    batch_size: int = 128,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores [n_prompts, n_words] (log P(word | prompt)) and token counts [n_prompts, n_words].

    One batched pass over every prompt scores all first tokens; one extra batched pass runs only for
    words whose remainder has several tokens.
    """
    tokenizer, model, device = loaded.tokenizer, loaded.model, loaded.device
    plans = [_plan(tokenizer, i, prompt, words) for i, prompt in enumerate(prompts)]
    loglik = np.zeros((len(prompts), len(words) + 1), dtype=np.float64)
    n_tokens = np.array([[len(item.remainder) for item in plan.items] for plan in plans], dtype=np.int64)

    bar = tqdm(total=len(plans), desc=f"scoring {loaded.name}", unit="q", disable=not progress)
    for q, logprobs in _iter_logprobs(model, [p.base for p in plans], [1] * len(plans), batch_size, device):
        scored = [item for item in plans[q].items if item.remainder]
        first_tokens = torch.tensor([item.remainder[0] for item in scored], device=logprobs.device)
        for item, value in zip(scored, logprobs[0, first_tokens].tolist()):
            loglik[q, item.column] = value
        bar.update(1)
    bar.close()

    # Words of several tokens: one more pass over prompt + word[:-1] scores the remaining tokens.
    extra = [item for plan in plans for item in plan.items if len(item.remainder) > 1]
    sequences = [plans[item.question].base + item.remainder[:-1] for item in extra]
    keeps = [len(item.remainder) - 1 for item in extra]
    for k, logprobs in _iter_logprobs(model, sequences, keeps, batch_size, device):
        item = extra[k]
        targets = torch.tensor(item.remainder[1:], device=logprobs.device)
        loglik[item.question, item.column] += float(logprobs.gather(-1, targets[:, None]).sum())
    return relative_to_delimiter(loglik), n_tokens[:, 1:]


@dataclass
class EvalResult:
    """Everything one evaluation produced: settings, per-question table and summary."""

    model: dict
    dataset: dict
    prompt_format: str
    answer_groups: AnswerGroups
    questions: pd.DataFrame
    summary: dict
    per_relation: dict
    word_tokens: dict
    seconds: float

    def to_json(self) -> dict:
        rows = self.questions.to_dict(orient="records")
        return {
            "fk_bench_version": fk_bench.__version__,
            "model": self.model,
            "dataset": self.dataset,
            "prompt_format": self.prompt_format,
            "answer_words": self.answer_groups.to_map(),
            "answer_word_tokens": self.word_tokens,
            "summary": self.summary,
            "per_relation": self.per_relation,
            "seconds": self.seconds,
            "questions": rows,
        }


def evaluate(
    loaded: LoadedModel,
    questions: Any,
    answer_groups: AnswerGroups,
    prompt_format: str = "plain",
    batch_size: int = 128,
    filter_threshold: float = DEFAULT_FILTER_THRESHOLD,
    fewshot_k: int = 4,
    dataset_id: str = "default",
    progress: bool = True,
) -> EvalResult:
    """Score ``questions`` (a validated dataset from :func:`fk_bench.data.load_questions`)."""
    examples = fewshot_pool(fewshot_k) if prompt_format == "fewshot" else []
    prompts = [build_prompt(q, prompt_format, loaded.tokenizer, examples) for q in questions["question"]]
    labels = np.asarray(questions["answer"], dtype=bool)
    start = time.perf_counter()
    scores, n_tokens = score_answer_words(loaded, prompts, answer_groups.words, batch_size, progress)
    seconds = time.perf_counter() - start

    per_question = question_metrics(scores, answer_groups.is_true_word, labels)
    table = pd.DataFrame({name: questions[name] for name in ("id", "question", "answer", "relation", "subject", "object", "corrupted_question")})
    for name in PER_QUESTION_METRICS:
        table[name] = per_question[name]
    table["passes_filter"] = passes_filter(per_question, filter_threshold)
    for column, word in enumerate(answer_groups.words):
        table[f"score[{word}]"] = scores[:, column]

    per_relation = {}
    for relation, group in table.groupby("relation", sort=True):
        index = group.index.to_numpy()
        per_relation[relation] = summarize({k: v[index] for k, v in per_question.items()}, labels[index], filter_threshold)

    max_tokens = n_tokens.max(axis=0) if len(prompts) else np.zeros(len(answer_groups.words), dtype=int)
    return EvalResult(
        model={"spec": loaded.spec, "name": loaded.name, "path": str(loaded.path), "device": loaded.device, "dtype": str(loaded.dtype).removeprefix("torch.")},
        dataset={"id": dataset_id, "n_questions": len(prompts)},
        prompt_format=prompt_format,
        answer_groups=answer_groups,
        questions=table,
        summary={**summarize(per_question, labels, filter_threshold), "questions_per_second": len(prompts) / seconds if seconds else math.inf},
        per_relation=per_relation,
        word_tokens={
            "single_token": [w for w, n in zip(answer_groups.words, max_tokens) if n == 1],
            "multi_token": {w: int(n) for w, n in zip(answer_groups.words, max_tokens) if n > 1},
        },
        seconds=seconds,
    )


def write_results(result: EvalResult, out_dir: str | Path) -> Path:
    """Write ``<out>/<model-name>/results.json`` and ``questions.csv``, each atomically."""
    model_dir = Path(out_dir) / result.model["name"]
    write_atomic(model_dir / "questions.csv", lambda tmp: result.questions.to_csv(tmp, index=False))
    return write_json_atomic(model_dir / "results.json", result.to_json())
