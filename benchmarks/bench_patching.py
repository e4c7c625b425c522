"""Batched activation patching vs TransformerLens, and report generation time, on the embedded model.

    python benchmarks/bench_patching.py [--questions 50] [--relation capital_of] [--min-accuracy 0] [--threads 1] [--skip-tl]

1. The full resid_pre grid (layers x positions) of one pair, "Is Paris the capital of France?\\n" vs
   "... Italy?\\n": TransformerLens's ``get_act_patch_resid_pre`` on the bridge vs
   :func:`interp.patching.get_act_patch_resid_pre`, timed in the same run, with the largest
   difference between the two grids (normalized log_odds).
2. ``fk-bench report`` on ``--questions`` questions: wall time of :func:`interp.report.build_report`
   (evaluator gate included), split into its stages.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

CLEAN = "Is Paris the capital of France?\n"
CORRUPTED = "Is Paris the capital of Italy?\n"


def bench_grid(loaded, skip_tl: bool, repeats: int) -> None:
    import transformer_lens.patching as tl_patching

    from fk_bench.answers import DEFAULT_GROUPS
    from interp import patching
    from fk_bench.models import load_bridge
    from interp.attribution import single_token_answers

    answers = single_token_answers(loaded.tokenizer, [CLEAN, CORRUPTED], DEFAULT_GROUPS)
    ids = answers.id_tensor(loaded.device)
    clean_tokens, corrupted_tokens = patching.tokenize_pair(loaded.tokenizer, "paris-capital", CLEAN, CORRUPTED)
    clean = patching.record_activations(loaded.model, clean_tokens, ids)
    corrupted = patching.record_activations(loaded.model, corrupted_tokens, ids)
    clean_value = float(patching.answer_metrics(clean.answer_logits, answers.is_true_word, True)["log_odds"])
    corrupted_value = float(patching.answer_metrics(corrupted.answer_logits, answers.is_true_word, True)["log_odds"])

    def metric(answer_logits: torch.Tensor) -> torch.Tensor:
        log_odds = patching.answer_metrics(answer_logits, answers.is_true_word, True)["log_odds"]
        return torch.as_tensor(patching.normalize(log_odds, clean_value, corrupted_value))

    grid_shape = (patching.n_layers(loaded.model), clean_tokens.shape[0])
    print(f"pair: {CLEAN!r} vs {CORRUPTED!r}; grid {grid_shape[0]} x {grid_shape[1]}; log_odds clean {clean_value:.3f}, corrupted {corrupted_value:.3f}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ours = patching.get_act_patch_resid_pre(loaded.model, corrupted_tokens, clean, ids, metric)
        times.append(time.perf_counter() - start)
    batched = statistics.median(times)
    print(f"batched resid_pre grid: {batched:.3f} s (median of {repeats}: {', '.join(f'{t:.3f}' for t in times)})")
    start = time.perf_counter()
    patching.patched_answer_logits(loaded.model, clean, corrupted, ids)
    print(f"batched, all four grids (resid_pre, attn_out, mlp_out, heads) at once: {time.perf_counter() - start:.3f} s")
    start = time.perf_counter()
    patching.attribution_patch(loaded.model, clean, corrupted_tokens, ids, answers.is_true_word, True)
    print(f"attribution patching, all four grids: {time.perf_counter() - start:.3f} s")
    if skip_tl:
        return
    bridge = load_bridge(loaded)
    _, clean_cache = bridge.run_with_cache(clean_tokens[None].to(loaded.device))
    tl_metric = lambda logits: metric(logits[:, -1, ids])[0]
    start = time.perf_counter()
    reference = tl_patching.get_act_patch_resid_pre(bridge, corrupted_tokens[None].to(loaded.device), clean_cache, tl_metric)
    tl_seconds = time.perf_counter() - start
    difference = (reference.double().cpu() - ours.double()).abs().max().item()
    print(f"TransformerLens get_act_patch_resid_pre: {tl_seconds:.3f} s")
    print(f"ratio TL / batched: {tl_seconds / batched:.1f}x; max |difference| {difference:.2e} (normalized; x {abs(clean_value - corrupted_value):.3f} in log_odds)")


def bench_report(loaded, args: argparse.Namespace) -> None:
    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.data import load_questions
    from interp.report import ReportSettings, build_report

    questions = load_questions(args.dataset, config=args.config, split=args.split, relation=args.relation)
    settings = ReportSettings(max_questions=args.questions, min_accuracy=args.min_accuracy, filter_threshold=args.filter_threshold, dataset_id=str(args.dataset or "default"), progress=False)
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        report = build_report(loaded, questions, DEFAULT_GROUPS, args.out or scratch, settings)
        seconds = time.perf_counter() - start
    if not report.passed:
        print(f"report: the model did not pass the gate ({report.data['reason']}) after {seconds:.1f} s")
        return
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items() if k != "total")
    patching = report.data["patching"]
    print(
        f"report on {len(report.data['dla']['questions'])} questions ({len(questions)} evaluated for the gate, "
        f"{patching['n_pairs']} pairs patched, {len(patching['skipped_length_mismatch'])} skipped for length): {seconds:.1f} s ({stages})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=50, help="questions analysed by the timed report (0: skip)")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--config", default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--relation", default=None, help="only questions of this relation (the gate evaluates just these)")
    parser.add_argument("--min-accuracy", type=float, default=0.6)
    parser.add_argument("--filter-threshold", type=float, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-tl", action="store_true", help="skip the (slow) TransformerLens grid")
    parser.add_argument("--out", default=None, help="keep the timed report here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both sides (default: torch's)")
    args = parser.parse_args()

    from fk_bench.models import load_model

    torch.set_grad_enabled(False)
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_model("embedded", device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {loaded.device}")
    bench_grid(loaded, args.skip_tl, args.repeats)
    if args.questions:
        bench_report(loaded, args)


if __name__ == "__main__":
    main()
