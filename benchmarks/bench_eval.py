"""Native evaluator throughput against its FLOP floor, and the cached embedded model's reload time.

The floor: the forward FLOPs the evaluator cannot avoid (2 x non-embedding parameters per prompt token,
attention scores, and one unembedding row block per question: 2 x d_model x vocab), divided by this
machine's float32 matmul rate measured in the same run on the model's own layer shapes. Ratio =
floor time / measured time (1.0 = every FLOP at matmul speed). Also the reload time of the cached
embedded model in a fresh process, with the import of transformers' model code timed apart.

    python benchmarks/bench_eval.py --questions 1024 --batch-size 32 128 256
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch


def matmul_gflops(tokens: int, d_model: int, d_ff: int, repeats: int = 30) -> float:
    """Best-of float32 matmul rate on the MLP's shape ([tokens, d_model] @ [d_model, d_ff])."""
    a, b = torch.randn(tokens, d_model), torch.randn(d_model, d_ff)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * tokens * d_model * d_ff / best / 1e9


def reload_seconds(threads: int) -> tuple[float, float]:
    """In a fresh process, the cache already built: (seconds to import transformers' Gemma 3 model code,
    seconds for ``load_model('embedded')`` after it)."""
    code = (
        f"import time, torch, transformers, fk_bench.models as m; torch.set_num_threads({threads})\n"
        "s = time.perf_counter(); import transformers.models.gemma3.modeling_gemma3; i = time.perf_counter() - s\n"
        "s = time.perf_counter(); m.load_model('embedded', device='cpu'); print(i, time.perf_counter() - s)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    imports, load = out.stdout.strip().splitlines()[-1].split()
    return float(imports), float(load)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32, 128, 256])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.data import load_questions
    from fk_bench.evaluation import evaluate
    from fk_bench.models import load_model
    from fk_bench.prompts import build_prompt, encode

    loaded = load_model("embedded", device="cpu")
    cfg = loaded.model.config
    questions = load_questions(config="all").shuffle(seed=0).select(range(args.questions))
    n_params = sum(p.numel() for p in loaded.model.parameters())
    embedding = loaded.model.get_input_embeddings().weight.numel()
    tokens = [len(encode(loaded.tokenizer, build_prompt(q))) for q in questions["question"]]
    n_tokens = sum(tokens)
    attention = sum(4 * cfg.num_hidden_layers * cfg.num_attention_heads * cfg.head_dim * t * t for t in tokens)
    flops = 2 * (n_params - embedding) * n_tokens + attention + 2 * cfg.hidden_size * cfg.vocab_size * len(tokens)
    print(f"torch threads {torch.get_num_threads()}; questions {len(tokens)}, prompt tokens {n_tokens} "
          f"(mean {n_tokens / len(tokens):.1f}), non-embedding params {(n_params - embedding) / 1e6:.1f}M, "
          f"forward FLOPs {flops / 1e9:.0f} G")
    for batch_size in args.batch_size:
        result = evaluate(loaded, questions, DEFAULT_GROUPS, batch_size=batch_size, progress=False)
        rate = matmul_gflops(batch_size * n_tokens // len(tokens), cfg.hidden_size, cfg.intermediate_size)
        floor = flops / (rate * 1e9)
        print(f"batch {batch_size}: matmul rate {rate:.1f} GFLOP/s -> FLOP floor {floor:.2f} s ({len(tokens) / floor:.1f} q/s); "
              f"fk-bench evaluate {result.seconds:.2f} s ({len(tokens) / result.seconds:.1f} q/s) = {floor / result.seconds:.0%} of the floor")
    imports, load = reload_seconds(torch.get_num_threads())
    print(f"embedded model reload in a fresh process: load_model {load:.2f} s from the cache "
          f"(after {imports:.2f} s importing transformers' Gemma 3 model code, paid by any transformers run)")


if __name__ == "__main__":
    main()
