"""lm-eval vs ``fk-bench eval``: wall time to score the same questions with the same model, in one run.

Model and data loading are excluded from both: one HF model is loaded once, wrapped by lm-eval's HFLM
and used by the native evaluator; lm-eval's tasks (with their datasets) are built before its clock
starts, and the native questions are loaded before its clock starts. lm-eval's time covers
``lm_eval.evaluator.evaluate`` (request building, scoring, metrics); the native time covers
``fk_bench.evaluation.evaluate`` (prompts, scoring, metrics). The script also checks that both report
the same per-question numbers.

    python benchmarks/bench_lm_eval_vs_native.py --per-relation 20 --lm-eval-batch-size 32 --native-batch-size 128
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--per-relation", type=int, default=20)
    parser.add_argument("--lm-eval-batch-size", type=int, default=32)
    parser.add_argument("--native-batch-size", type=int, default=128)
    args = parser.parse_args()

    import datasets
    from lm_eval.evaluator import evaluate as lm_eval_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.data import load_questions
    from fk_bench.evaluation import evaluate
    from fk_bench.models import load_model
    from fk_bench.task_plugin import tasks_dir

    loaded = load_model(args.model, device="cpu")
    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=args.lm_eval_batch_size)
    print(f"torch threads: {torch.get_num_threads()}")

    task_dict = TaskManager(include_path=str(tasks_dir())).load(["fk_yesno"])
    start = time.perf_counter()
    out = lm_eval_evaluate(lm=lm, task_dict=task_dict, limit=args.per_relation, log_samples=True)
    lm_eval_seconds = time.perf_counter() - start

    relations = sorted(name.removeprefix("fk_yesno_") for name in out["samples"])
    questions = datasets.concatenate_datasets(
        [load_questions(config=relation, limit=args.per_relation) for relation in relations]
    )
    start = time.perf_counter()
    native = evaluate(loaded, questions, DEFAULT_GROUPS, batch_size=args.native_batch_size, progress=False)
    native_seconds = time.perf_counter() - start

    lm_eval_log_odds = {
        s["doc"]["id"]: s["log_odds"] for task in out["samples"].values() for s in task
    }
    diffs = [abs(lm_eval_log_odds[i] - v) for i, v in zip(native.questions["id"], native.questions["log_odds"])]
    n = len(native.questions)
    print(f"questions: {n} ({args.per_relation} per relation x {len(relations)} relations); batch size lm-eval "
          f"{args.lm_eval_batch_size}, native {args.native_batch_size}")
    print(f"lm-eval evaluate:  {lm_eval_seconds:.2f} s ({n / lm_eval_seconds:.1f} q/s)")
    print(f"fk-bench evaluate: {native_seconds:.2f} s ({n / native_seconds:.1f} q/s)")
    print(f"speed-up native vs lm-eval: {lm_eval_seconds / native_seconds:.2f}x")
    print(f"max |log_odds difference|: {max(diffs):.2e}; accuracy lm-eval {out['results']['fk_yesno']['acc,none']:.4f} "
          f"native {native.summary['accuracy']:.4f}")
    assert np.max(diffs) < 1e-4


if __name__ == "__main__":
    main()
