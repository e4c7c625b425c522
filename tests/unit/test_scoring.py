"""Batched scoring against its definition: one full forward per continuation, as lm-eval's HFLM runs it.

The fast path (one row per question with a tree mask for split words, the shared prefix's keys and
values reused) must give the same numbers on every architecture of the zoo: Gemma 3 (sliding-window
layers), Llama (SmolLM2) and Qwen2 (grouped-query attention, biased projections), with sdpa and eager
attention, for the plain, few-shot and chat prompts.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from support.tiny_families import build_tiny_family, with_chat_template

from fk_bench import scoring
from fk_bench.data import fewshot_pool
from fk_bench.errors import FkBenchError
from fk_bench.metrics import relative_to_delimiter
from fk_bench.prompt_formats import build_prompt
from fk_bench.prompts import encode, split_context
from fk_bench.scoring import AUTO, DEFAULT_BATCH_SIZE, batching, forward, plan_prompts, score_answer_words, shared_prefix
from fk_bench.scoring import head as head_module
from fk_bench.scoring import score as score_module

QUESTIONS = [
    "Is Paris the capital of France?",
    "Is Rome in Italy?",
    "Does Paris have a desert climate?",
    "Is the Louvre Museum in Rome?",
    "Is Madrid the capital of Spain?",
]
# Single-token words, a space-prefixed one, and words the tiny tokenizer never saw, which it splits
# into several tokens: the tree-shaped rows must score those.
WORDS = ("Yes", "No", " no", "Affirmative", "Nah", " Negative")


def reference_scores(loaded, prompts, words) -> np.ndarray:
    """log P(word | prompt) by definition: lm-eval's context/continuation split, one forward each."""
    loglik = np.zeros((len(prompts), len(words) + 1))
    for i, prompt in enumerate(prompts):
        context, delimiter = split_context(prompt)
        context_enc = encode(loaded.tokenizer, context)
        for j, word in enumerate(("", *words)):
            continuation = encode(loaded.tokenizer, context + delimiter + word)[len(context_enc) :]
            if not continuation:
                continue
            tokens = torch.tensor([(context_enc + continuation)[:-1]], device=loaded.model.device)
            with torch.no_grad():
                logprobs = torch.log_softmax(loaded.model(input_ids=tokens).logits[0, -len(continuation) :].double(), -1).cpu()
            loglik[i, j] = float(logprobs[torch.arange(len(continuation)), torch.tensor(continuation)].sum())
    return relative_to_delimiter(loglik)


def prompts_for(loaded, prompt_format: str, k: int = 4) -> list[str]:
    examples = fewshot_pool(k) if prompt_format == "fewshot" else []
    return [build_prompt(q, prompt_format, loaded.tokenizer, examples) for q in QUESTIONS]


@pytest.fixture(scope="module", params=["gemma3", "llama", "qwen2"])
def family_model(request, tiny_model, tmp_path_factory):
    if request.param == "gemma3":
        return with_chat_template(tiny_model)
    return build_tiny_family(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param)


@pytest.mark.parametrize("prompt_format", ["plain", "fewshot", "chat"])
def test_fast_path_equals_one_forward_per_continuation(family_model, prompt_format):
    prompts = prompts_for(family_model, prompt_format)
    expected = reference_scores(family_model, prompts, WORDS)
    for share_prefix in (True, False):
        scores, n_tokens = score_answer_words(family_model, prompts, WORDS, batch_size=3, progress=False, share_prefix=share_prefix)
        np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)
    assert n_tokens.max() > 1, "no answer word split into several tokens: the tree rows went untested"


def test_prefix_longer_than_the_sliding_window(tiny_model):
    """The tiny Gemma 3 has a 64-token window: 4 examples make a prefix past it, which transformers'
    sliding cache layer trims; the masks must follow."""
    prompts = prompts_for(tiny_model, "fewshot", k=4)
    plans, _, _ = plan_prompts(tiny_model.tokenizer, prompts, WORDS)
    prefix, _ = shared_prefix([p.base for p in plans])
    assert len(prefix) > tiny_model.model.config.sliding_window
    expected = reference_scores(tiny_model, prompts, WORDS)
    scores, _ = score_answer_words(tiny_model, prompts, WORDS, batch_size=4, progress=False)
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


def test_eager_attention_gets_an_additive_mask(tmp_path):
    loaded = build_tiny_family(tmp_path, "llama")
    loaded.model.set_attn_implementation("eager")
    prompts = prompts_for(loaded, "chat")
    scores, _ = score_answer_words(loaded, prompts, WORDS, batch_size=8, progress=False)
    np.testing.assert_allclose(scores, reference_scores(loaded, prompts, WORDS), atol=1e-4, rtol=0)


def test_bfloat16_rows_match_bfloat16_reference(tmp_path):
    """In bfloat16 the fast path is the same computation, up to bfloat16's rounding."""
    loaded = build_tiny_family(tmp_path, "qwen2", dtype="bfloat16")
    prompts = prompts_for(loaded, "fewshot")
    scores, _ = score_answer_words(loaded, prompts, WORDS, batch_size=8, progress=False)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, reference_scores(loaded, prompts, WORDS), atol=0.15, rtol=0)


def test_questions_off_the_shared_prefix_run_in_full():
    """Sequences that leave the most common path run without the prefix; nothing shared, no prefix."""
    common = list(range(100, 120))
    bases = [common + [1, 2], common + [3], common[:5] + [7, 8, 9], common + [4, 5, 6]]
    prefix, starts_with = shared_prefix(bases)
    assert prefix == common and starts_with == [True, True, False, True]
    assert shared_prefix([[1, 2, 3], [1, 2, 4]]) == ([1, 2], [True, True])
    assert shared_prefix([[1, 2, 3], [4, 5, 6]]) == ([], [False, False])
    assert shared_prefix([[1, 2, 3]]) == ([], [False])  # run once anyway: nothing to save
    # every sequence keeps one token after the prefix: one token shorter saves more than leaving one out
    prefix, starts_with = shared_prefix([common, common + [1], common + [2]])
    assert prefix == common[:-1] and starts_with == [True, True, True]


def test_outlier_prompt_falls_back_and_scores_the_same(tiny_model):
    """A question whose tokens leave the shared prefix early (here: a prompt without the examples)."""
    loaded = tiny_model
    prompts = prompts_for(loaded, "fewshot")
    prompts[3] = build_prompt(QUESTIONS[3])
    _, starts_with = shared_prefix([p.base for p in plan_prompts(loaded.tokenizer, prompts, WORDS)[0]])
    assert starts_with == [True, True, True, False, True]
    expected = reference_scores(loaded, prompts, WORDS)
    scores, _ = score_answer_words(loaded, prompts, WORDS, batch_size=8, progress=False)
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


def test_question_longer_than_the_context_is_refused(tmp_path):
    loaded = build_tiny_family(tmp_path, "llama", max_position_embeddings=24)
    prompts = [build_prompt("Is Rome in Italy?"), build_prompt("Is Paris the capital of France? " * 4)]
    with pytest.raises(FkBenchError, match=r"question 1: .* more than the model's context of 24"):
        score_answer_words(loaded, prompts, WORDS, progress=False)
    scores, _ = score_answer_words(loaded, prompts[:1], WORDS, progress=False)
    assert np.isfinite(scores).all()


def test_no_questions_gives_empty_scores(tiny_model):
    scores, n_tokens = score_answer_words(tiny_model, [], WORDS, progress=False)
    assert scores.shape == (0, len(WORDS)) and n_tokens.shape == (0, len(WORDS))


def test_unsupported_attention_implementation_is_a_clear_error(tmp_path):
    loaded = build_tiny_family(tmp_path, "llama")
    loaded.model.config._attn_implementation = "flash_attention_2"  # what the masks cannot be given to
    with pytest.raises(FkBenchError, match="attention implementation"):
        score_answer_words(loaded, prompts_for(loaded, "plain"), WORDS, progress=False)


# ---- the chunked head, the batch pipeline and the new API ------------------------------------------


def _scores_from_logits(loaded, prompts, monkeypatch, **kwargs):
    """Scores through the model's own logits and a full log_softmax (the path before the chunked head)."""
    with monkeypatch.context() as patch:
        patch.setattr(forward, "chunked_head", lambda *args: None)
        return score_answer_words(loaded, prompts, WORDS, progress=False, **kwargs).scores


@pytest.mark.parametrize("prompt_format", ["plain", "fewshot"])
def test_chunked_head_gives_the_full_log_softmax(family_model, prompt_format, monkeypatch):
    """Many small vocabulary chunks (targets in several of them) give the numbers of one log_softmax
    over the model's logits."""
    prompts = prompts_for(family_model, prompt_format)
    expected = _scores_from_logits(family_model, prompts, monkeypatch)
    monkeypatch.setattr(head_module, "MIN_HEAD_CHUNK", 7)
    monkeypatch.setattr(head_module, "HEAD_CHUNK_ELEMENTS", {"cpu": 64, "cuda": 64})
    chunks = []
    selections = head_module.ChunkedHead.selections
    monkeypatch.setattr(head_module.ChunkedHead, "selections", lambda self, *args: chunks.append(found := selections(self, *args)) or found)
    scored = score_answer_words(family_model, prompts, WORDS, batch_size=2, progress=False)
    np.testing.assert_allclose(scored.scores, expected, atol=1e-5, rtol=1e-6)
    assert max(len(found) for found in chunks) > 1, "the chunked head ran, its targets in several chunks"


def test_chunked_normalizer_is_within_1e5_of_float64(gemma_sized_head):
    """On a 262k-word vocabulary (where torch's float32 log_softmax was seen off by 3.6e-5 on the embedded
    model, BENCHMARKS.md) the chunked logsumexp stays within 1e-5 of float64."""
    head, hidden, weight = gemma_sized_head
    exact = torch.logsumexp((hidden.double() @ weight.double().T), dim=-1)
    tokens = [0, 5, 70_000, weight.shape[0] - 1]
    chunk = head.chunk(hidden.shape[0])
    got = head(hidden[:, None], torch.zeros(len(tokens), dtype=torch.long), chunk, head.selections([0] * len(tokens), tokens, chunk), len(tokens))
    expected = (hidden.double() @ weight[tokens].double().T) - exact[:, None]
    assert (got.double() - expected).abs().max() < 1e-5


@pytest.fixture
def gemma_sized_head():
    """A random head of Gemma 3's vocabulary size with logits of a trained model's spread (std ~3)."""
    generator = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(64, 262_144, bias=False).requires_grad_(False)
    linear.weight.copy_(torch.randn(262_144, 64, generator=generator) * 0.4)
    return head_module.ChunkedHead(linear, None, "cpu"), torch.randn(16, 64, generator=generator), linear.weight


@pytest.fixture
def head_batches(monkeypatch):
    """Batches scored by the chunked head (not by the model's logits), recorded as they run."""
    batches = []
    call = head_module.ChunkedHead.__call__

    def recording(self, hidden, *args):
        batches.append(hidden.shape[0])
        return call(self, hidden, *args)

    monkeypatch.setattr(head_module.ChunkedHead, "__call__", recording)
    return batches


def test_softcapped_logits_match(tmp_path, head_batches):
    """Gemma 2's final soft-cap (tanh) is applied by the chunked head as by the model."""
    from support import build_tiny_model

    loaded = build_tiny_model(tmp_path)
    loaded.model.config.final_logit_softcapping = 5.0
    prompts = prompts_for(loaded, "plain")
    scores = score_answer_words(loaded, prompts, WORDS, batch_size=2, progress=False).scores
    np.testing.assert_allclose(scores, reference_scores(loaded, prompts, WORDS), atol=1e-4, rtol=0)
    assert len(head_batches) > 1, "scored by the chunked head (beyond its check)"


def test_a_head_it_does_not_know_is_scored_from_the_logits(tmp_path, head_batches):
    """A model that transforms its logits in a way the chunked head does not reproduce: found by the
    check at the start of the run, scored from the model's logits, same numbers as the reference."""
    loaded = build_tiny_family(tmp_path, "llama")
    forward = loaded.model.forward

    @functools.wraps(forward)
    def scaled(*args, **kwargs):
        output = forward(*args, **kwargs)
        output.logits = output.logits * 0.5
        return output

    loaded.model.forward = scaled
    prompts = prompts_for(loaded, "plain")
    scores = score_answer_words(loaded, prompts, WORDS, progress=False).scores
    np.testing.assert_allclose(scores, reference_scores(loaded, prompts, WORDS), atol=1e-4, rtol=0)
    assert head_batches == [1], "the chunked head ran its check only"


def test_scored_prompts_carry_batch_size_and_hflm_context_ids(tiny_model):
    prompts = prompts_for(tiny_model, "fewshot")
    scored = score_answer_words(tiny_model, prompts, WORDS, batch_size=AUTO, progress=False)
    assert scored.batch_size == DEFAULT_BATCH_SIZE, "auto on the CPU is the default size"
    assert scored.prompt_tokens == [encode(tiny_model.tokenizer, split_context(p)[0]) for p in prompts]
    scores, n_tokens = scored
    assert scores is scored.scores and n_tokens is scored.n_tokens
    assert score_answer_words(tiny_model, prompts, WORDS, batch_size=3, progress=False).batch_size == 3


@pytest.mark.parametrize("bad", [0, -1, "big", 2.5, True])
def test_bad_batch_size_is_one_line(tiny_model, bad):
    with pytest.raises(FkBenchError, match="batch size .*: must be at least 1 or 'auto'"):
        score_answer_words(tiny_model, prompts_for(tiny_model, "plain"), WORDS, batch_size=bad, progress=False)


def test_question_over_the_token_budget_is_refused_by_name_before_any_forward(tmp_path, monkeypatch):
    """Issue 19: one huge question (within the model's context) must fail at once, naming it, not run for minutes."""
    loaded = build_tiny_family(tmp_path, "llama", max_position_embeddings=4096)
    prompts = prompts_for(loaded, "plain") + [build_prompt("Is Paris the capital of France? " * 200)]
    names = [f"q-{i}" for i in range(len(prompts))]
    monkeypatch.setattr(score_module, "ForwardRunner", None)  # any forward pass would fail on this
    with pytest.raises(FkBenchError, match=r"question q-5: \d+ tokens of its own .* more than the budget of 512 per question"):
        score_answer_words(loaded, prompts, WORDS, progress=False, names=names)
    with pytest.raises(FkBenchError, match=r"question q-5: .* budget of 1000 "):
        score_answer_words(loaded, prompts, WORDS, progress=False, names=names, max_question_tokens=1000)


def test_token_budget_counts_a_question_own_tokens(tiny_model):
    """Few-shot examples shared by every prompt run once and do not count; None lifts the budget."""
    prompts = prompts_for(tiny_model, "fewshot", k=3)
    plans, layouts, _ = plan_prompts(tiny_model.tokenizer, prompts, WORDS)
    longest = max(len(p.base) + len(layouts[p.layout].lead) for p in plans)
    budget = longest - 10
    scores = score_answer_words(tiny_model, prompts, WORDS, progress=False, max_question_tokens=budget).scores
    assert np.isfinite(scores).all()
    with pytest.raises(FkBenchError, match="question 0: .* budget"):
        score_answer_words(tiny_model, prompts[:1], WORDS, progress=False, max_question_tokens=budget)
    assert np.isfinite(score_answer_words(tiny_model, prompts[:1], WORDS, progress=False, max_question_tokens=None).scores).all()


def test_errors_name_the_question(tmp_path):
    loaded = build_tiny_family(tmp_path, "llama", max_position_embeddings=24)
    prompts = [build_prompt("Is Rome in Italy?"), build_prompt("Is Paris the capital of France? " * 4)]
    with pytest.raises(FkBenchError, match=r"question paris-7: .* more than the model's context"):
        score_answer_words(loaded, prompts, WORDS, progress=False, names=["rome-1", "paris-7"])
    with pytest.raises(FkBenchError, match=r"question empty-2: the prompt is empty"):
        score_answer_words(loaded, [prompts[0], "  \n"], WORDS, progress=False, names=["a", "empty-2"])


def test_batches_are_built_in_a_worker_thread(tiny_model, monkeypatch):
    """The next batch is built (on CUDA: pinned, copied without blocking) while the current one runs."""
    import threading

    builders = set()
    batches = score_module.batches

    def recording(*args):
        for item in batches(*args):
            builders.add(threading.current_thread().name)
            yield item

    monkeypatch.setattr(score_module, "batches", recording)
    prompts = prompts_for(tiny_model, "plain")
    scores = score_answer_words(tiny_model, prompts, WORDS, batch_size=1, progress=False).scores
    np.testing.assert_allclose(scores, reference_scores(tiny_model, prompts, WORDS), atol=1e-4, rtol=0)
    assert builders and all(name.startswith("fk-bench-batches") for name in builders)


def test_prefetch_keeps_order_and_raises_the_worker_error():
    def items():
        yield from range(5)
        raise RuntimeError("broken batch")

    seen = []
    with pytest.raises(RuntimeError, match="broken batch"):
        for item in batching.prefetched(items()):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]
    assert list(batching.prefetched(iter([]))) == []


def test_auto_batch_size_from_free_memory():
    gib = 1 << 30
    assert scoring.batch_size_from_memory(10 * gib, gib / 100, rows=10_000) == 512  # 800 fit: a power of two
    assert scoring.batch_size_from_memory(1000 * gib, 1024, rows=10_000) == scoring.MAX_AUTO_BATCH_SIZE
    assert scoring.batch_size_from_memory(1000 * gib, 1024, rows=100) == 128  # no bigger than the questions need
    assert scoring.batch_size_from_memory(gib, 2 * gib, rows=100) == 1


def test_auto_batch_size_halves_until_it_fits():
    tried = []

    def run(batch):
        tried.append(batch)
        if batch > 100:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    assert scoring.largest_batch_that_runs(512, run) == 64 and tried == [512, 256, 128, 64]
    with pytest.raises(ValueError, match="not memory"):
        scoring.largest_batch_that_runs(512, lambda batch: (_ for _ in ()).throw(ValueError("not memory")))
