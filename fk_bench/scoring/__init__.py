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

The modules, in the order a run meets them: :mod:`~fk_bench.scoring.plan` (each question's tokens, the
shared prefix, rows grouped by shape), :mod:`~fk_bench.scoring.batching` (batches built ahead, ``auto``'s
size), :mod:`~fk_bench.scoring.forward` (masks, prefix cache, one forward pass per batch),
:mod:`~fk_bench.scoring.head` (the vocabulary-chunked head), :mod:`~fk_bench.scoring.score` (the entry
point, :func:`score_answer_words`, re-exported here).
"""

from fk_bench.scoring.batching import MAX_AUTO_BATCH_SIZE, batch_size_from_memory, largest_batch_that_runs
from fk_bench.scoring.plan import plan_prompts, shared_prefix
from fk_bench.scoring.score import DEFAULT_MAX_QUESTION_TOKENS, ScoredPrompts, score_answer_words
from fk_bench.spec import BATCH_SIZE_AUTO as AUTO
from fk_bench.spec import DEFAULT_BATCH_SIZE

__all__ = [
    "AUTO",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_QUESTION_TOKENS",
    "MAX_AUTO_BATCH_SIZE",
    "ScoredPrompts",
    "batch_size_from_memory",
    "largest_batch_that_runs",
    "plan_prompts",
    "score_answer_words",
    "shared_prefix",
]
