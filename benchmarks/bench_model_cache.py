"""The model cache on disk: float32 vs bfloat16, load time at equal numbers.

For a cached zoo model, writes a bfloat16 copy of its weights beside a float32 one, then for each
(stored dtype, compute dtype) pair loads the weights in a fresh process (page cache warm: each
variant is loaded once untimed first) and times ``from_pretrained`` (best of ``--repeats``), and
scores a few prompts to compare the numbers: a bfloat16 file gives the same numbers only where the
compute dtype is bfloat16 too (each float32 weight rounds once, to the same bfloat16 value either way).

    python benchmarks/bench_model_cache.py --model embedded
    python benchmarks/bench_model_cache.py --model qwen2.5-coder-1.5b-instruct --repeats 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROMPTS = ["Is Paris the capital of France?\n", "Is Rome the capital of Spain?\n", "Is Au the chemical symbol of gold?\n"]


def child(model_dir: str, dtype: str, out: str) -> None:
    """One timed load in this fresh process, then the last-position log-probs of PROMPTS."""
    import time

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(torch.get_num_threads())
    import transformers.models.auto.modeling_auto  # noqa: F401  (import time is not load time)

    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype))
    seconds = time.perf_counter() - start
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = []
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            rows.append(torch.log_softmax(model(ids).logits[0, -1].float(), -1).tolist())
    Path(out).write_text(json.dumps({"seconds": seconds, "logprobs": rows}))


def convert(model_dir: str, out_dir: str) -> None:
    """Write a bfloat16 copy of the float32 cache (in a child: the parent never holds the model)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    assert next(model.parameters()).dtype == torch.float32, "the cache holds float32 weights"
    model.to(torch.bfloat16).save_pretrained(out_dir)  # type: ignore[arg-type]
    for item in Path(model_dir).iterdir():
        if item.name.startswith("tokenizer") or item.name == "chat_template.jinja":
            shutil.copy2(item, Path(out_dir) / item.name)


def run_child(model_dir: Path, dtype: str, scratch: Path) -> dict:
    out = scratch / "child.json"
    subprocess.run([sys.executable, __file__, "--child", str(model_dir), dtype, str(out)], check=True)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--convert", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.convert:
        convert(*args.convert)
        return

    import numpy as np

    from fk_bench.models import resolve_model_dir

    float32_dir = resolve_model_dir(args.model)
    scratch = Path(tempfile.mkdtemp(prefix="bench-model-cache-"))
    try:
        bf16_dir = scratch / "bfloat16"
        subprocess.run([sys.executable, __file__, "--convert", str(float32_dir), str(bf16_dir)], check=True)
        stored = {"float32": float32_dir, "bfloat16": bf16_dir}
        sizes = {name: sum(f.stat().st_size for f in d.glob("*.safetensors")) for name, d in stored.items()}
        print(f"{args.model}: safetensors on disk: float32 {sizes['float32'] / 1e9:.2f} GB, bfloat16 {sizes['bfloat16'] / 1e9:.2f} GB")
        results = {}
        for compute in ("float32", "bfloat16"):
            for name, directory in stored.items():
                run_child(directory, compute, scratch)  # warm the page cache
                runs = [run_child(directory, compute, scratch) for _ in range(args.repeats)]
                results[name, compute] = {"seconds": min(r["seconds"] for r in runs), "logprobs": np.array(runs[0]["logprobs"])}
        print(f"| stored | compute | load s (best of {args.repeats}) | max abs diff of log-probs vs float32 file, same compute |")
        print("|---|---|---:|---:|")
        for (name, compute), result in results.items():
            diff = np.abs(result["logprobs"] - results["float32", compute]["logprobs"]).max()
            print(f"| {name} | {compute} | {result['seconds']:.2f} | {diff:.3g} |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
