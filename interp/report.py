"""``fk-bench report``: gate a model on the evaluator, then write its DLA and activation-patching report.

For each model: ``OUT/<model-name>/report.html`` (self-contained: plotly.js is inlined, so it opens
offline) and ``report.json`` (every array and the settings), or ``OUT/<model-name>/did_not_pass.json``
when its accuracy is below ``--min-accuracy`` or no question passes the per-question filter. The
analysis uses only the questions that pass the filter.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fk_bench.errors import FkBenchError
from fk_bench.metrics import DEFAULT_FILTER_THRESHOLD

DEFAULT_MIN_ACCURACY = 0.6
DEFAULT_MIN_PATCH_DELTA = 0.0
"""The mean grids use the pairs whose corruption lowers the metric by more than this (nats), weighted by
that drop: the total recovered over the total drop, so pairs the corruption barely moves (whose
normalized grids are mostly noise) weigh little."""


@dataclass
class ReportSettings:
    """Everything that shapes a report (written into report.json)."""

    max_questions: int | None = None
    min_accuracy: float = DEFAULT_MIN_ACCURACY
    filter_threshold: float = DEFAULT_FILTER_THRESHOLD
    top_k: int = 3
    pattern_questions: int = 2
    attribution: bool = True
    min_patch_delta: float = DEFAULT_MIN_PATCH_DELTA
    dataset_id: str = "default"
    progress: bool = True

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "progress"}


@dataclass
class ReportResult:
    """Where a report went and what it found."""

    model_dir: Path
    passed: bool
    data: dict
    seconds: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.model_dir / ("report.html" if self.passed else "did_not_pass.json")


# --------------------------------------------------------------------------------------------------
# Aggregation


def weighted_aligned_mean(grids: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Weighted mean of ``[layer, pos]`` grids of different lengths, aligned on the last position
    (NaN where no grid has the column)."""
    width = max(g.shape[1] for g in grids)
    total, weight = np.zeros((grids[0].shape[0], width)), np.zeros(width)
    for grid, w in zip(grids, weights):
        total[:, width - grid.shape[1]:] += w * grid
        weight[width - grid.shape[1]:] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.ravel(x), np.ravel(y)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.std(x[keep]) == 0 or np.std(y[keep]) == 0:
        return float("nan")
    return float(np.corrcoef(x[keep], y[keep])[0, 1])


def _mean_std(rows: list[np.ndarray]) -> dict[str, list[float]]:
    stack = np.stack(rows)
    return {"mean": stack.mean(0).tolist(), "std": stack.std(0).tolist(), "min": stack.min(0).tolist(), "max": stack.max(0).tolist()}


# --------------------------------------------------------------------------------------------------
# Figures and page


def _shown(token: str) -> str:
    """A token as an axis label: newlines and tabs made visible."""
    return token.replace("\n", "\\n").replace("\t", "\\t")


def _figures(data: dict) -> list[tuple[str, str, Any]]:
    """(section, caption, plotly figure) for every figure of the report."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from interp.patching import SITES

    dla, figs = data["dla"], []
    n_q = len(dla["questions"])
    lens = dla["logit_lens"]
    x = dla["lens_labels"]
    mean, std = np.array(lens["mean"]), np.array(lens["std"])
    fig = go.Figure(
        [
            go.Scatter(x=x + x[::-1], y=list(mean + std) + list((mean - std)[::-1]), fill="toself", line={"width": 0}, fillcolor="rgba(31,119,180,0.2)", name="± 1 std", hoverinfo="skip"),
            go.Scatter(x=x, y=lens["min"], mode="lines", line={"dash": "dot", "color": "gray"}, name="min"),
            go.Scatter(x=x, y=lens["max"], mode="lines", line={"dash": "dot", "color": "gray"}, name="max"),
            go.Scatter(x=x, y=mean, mode="lines+markers", line={"color": "#1f77b4"}, name="mean"),
        ]
    )
    fig.update_layout(title=f"Logit lens: accumulated residual on the answer direction ({n_q} questions)", xaxis_title="residual stream point", yaxis_title="logit_diff")
    figs.append(("dla", "Logit lens (mean, ±1 std band, min/max over questions).", fig))

    per_layer = dla["per_layer"]
    labels = dla["layer_labels"]
    colors = ["#7f7f7f" if lab == "embed" else "#1f77b4" if "attn" in lab else "#ff7f0e" for lab in labels]
    fig = go.Figure(go.Bar(x=labels, y=per_layer["mean"], error_y={"type": "data", "array": per_layer["std"]}, marker_color=colors))
    fig.update_layout(title="Per-layer DLA: embeddings, attention (blue) and MLP (orange) outputs", yaxis_title="logit_diff")
    figs.append(("dla", "Per-layer decomposition (mean ± std over questions); the bars sum to the final logit_diff.", fig))

    per_head = np.array(dla["per_head_mean"])
    fig = go.Figure(go.Heatmap(z=per_head, x=[f"H{h}" for h in range(per_head.shape[1])], y=[f"L{l}" for l in range(per_head.shape[0])], colorscale="RdBu", zmid=0, colorbar={"title": "logit_diff"}))
    fig.update_layout(title="Per-head DLA (mean over questions)", xaxis_title="head", yaxis_title="layer", yaxis={"autorange": "reversed"}, height=max(400, 28 * per_head.shape[0]))
    figs.append(("heads", "Direct logit attribution of each attention head at the last position.", fig))

    heads = [("+", *cell) for cell in dla["top_heads"]["positive"]] + [("−", *cell) for cell in dla["top_heads"]["negative"]]
    for pq in dla["pattern_questions"]:
        cols = max(1, len(heads) // 2)
        titles = [f"{sign} L{l}H{h} ({v:+.2f})" for sign, l, h, v in heads]
        fig = make_subplots(rows=2, cols=cols, subplot_titles=titles, horizontal_spacing=0.08, vertical_spacing=0.18)
        tokens = [f"{i}:{_shown(t)}" for i, t in enumerate(pq["tokens"])]
        patterns = np.array(pq["patterns"])
        for i, (_, layer, head, _) in enumerate(heads):
            fig.add_trace(go.Heatmap(z=patterns[layer, head], x=tokens, y=tokens, colorscale="Blues", zmin=0, zmax=1, showscale=i == 0), row=i // cols + 1, col=i % cols + 1)
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(title=f"Attention patterns of the top heads on {pq['id']}: {pq['question']!r} (rows: query, columns: key)", height=820)
        figs.append(("heads", f"Top {len(heads) // 2} positive (top row) and negative (bottom row) heads on question {pq['id']}.", fig))

    patching = data["patching"]
    for metric, mean in patching["mean"].items():
        fig = make_subplots(rows=1, cols=4, subplot_titles=["resid_pre", "attn_out", "mlp_out", "attention heads (all positions)"], horizontal_spacing=0.06)
        for col, site in enumerate(SITES, start=1):
            grid = np.array(mean[site], dtype=float)
            xs = [f"H{h}" for h in range(grid.shape[1])] if site == "head_out" else [f"{p - grid.shape[1]}" for p in range(grid.shape[1])]
            fig.add_trace(go.Heatmap(z=grid, x=xs, y=[f"L{l}" for l in range(grid.shape[0])], colorscale="RdBu", zmid=0, zmin=-1, zmax=1, showscale=col == 4), row=1, col=col)
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(title_text="position from the end", col=1)
        fig.update_layout(title=f"Activation patching, clean → corrupted, normalized {metric} (drop-weighted mean of {patching['n_in_mean'][metric]} pairs; 0 = corrupted, 1 = clean)", height=max(450, 26 * grid.shape[0]))
        figs.append(("patching", f"Exact patching ({metric}), positions aligned on the last token.", fig))
    if patching["pairs"]:
        first = patching["pairs"][int(np.argmax(patching["drops"]["log_odds"]))]
        fig = make_subplots(rows=1, cols=3, subplot_titles=["resid_pre", "attn_out", "mlp_out"], horizontal_spacing=0.06)
        tokens = [f"{i}:{_shown(a)}" if a == b else f"{i}:{_shown(a)}/{_shown(b)}" for i, (a, b) in enumerate(zip(first["clean_tokens"], first["corrupted_tokens"]))]
        for col, site in enumerate(SITES[:3], start=1):
            grid = np.array(first["exact"]["log_odds"][site])
            fig.add_trace(go.Heatmap(z=grid, x=tokens, y=[f"L{l}" for l in range(grid.shape[0])], colorscale="RdBu", zmid=0, zmin=-1, zmax=1, showscale=col == 3), row=1, col=col)
        fig.update_yaxes(autorange="reversed")
        drop = first["clean"]["log_odds"] - first["corrupted"]["log_odds"]
        fig.update_layout(title=f"Patching on {first['question_id']} (normalized log_odds; drop {drop:.3f} nats), clean/corrupted tokens", height=max(450, 26 * grid.shape[0]))
        figs.append(("patching", f"One pair in full: {first['question_id']}, the pair whose corruption lowers log_odds most.", fig))
    if patching["correlation"]:
        fig = make_subplots(rows=1, cols=4, subplot_titles=[f"{s}: r = {patching['correlation'][s]:.3f}" for s in SITES], horizontal_spacing=0.06)
        drops = patching["drops"]["log_odds"]
        for col, site in enumerate(SITES, start=1):
            exact = np.concatenate([drop * np.ravel(p["exact"]["log_odds"][site]) for p, drop in zip(patching["pairs"], drops)])
            approx = np.concatenate([drop * np.ravel(p["attribution_log_odds"][site]) for p, drop in zip(patching["pairs"], drops)])
            fig.add_trace(go.Scatter(x=exact, y=approx, mode="markers", marker={"size": 4, "opacity": 0.6}, showlegend=False), row=1, col=col)
            fig.update_xaxes(title_text="exact", row=1, col=col)
        fig.update_yaxes(title_text="attribution patching", col=1)
        fig.update_layout(title="Attribution patching vs exact patching: change in log_odds (nats) over the corrupted run, every cell of every pair", height=420)
        figs.append(("attribution", "Each point is one cell of one grid; r is Pearson's correlation.", fig))
    return figs


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.figure { margin: 1em 0 2em; } .caption { color: #555; font-size: 0.9em; } .note { background: #fff6dd; padding: 0.5em 1em; }
"""

_ERROR_TRAP = """window.__jsErrors = [];
window.addEventListener('error', function (e) { window.__jsErrors.push(String(e.message)); });"""

_RENDER_CHECK = """window.addEventListener('load', function () {
  var plots = document.querySelectorAll('.js-plotly-plot');
  var drawn = Array.prototype.filter.call(plots, function (p) { return p.querySelector('.main-svg') !== null; });
  document.body.setAttribute('data-rendered', String(drawn.length));
  document.body.setAttribute('data-js-errors', String(window.__jsErrors.length));
});"""


def _table(rows: list[tuple[str, Any]]) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows) + "</table>"


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _drop_text(patching: dict) -> str:
    drops = patching["drops"]["log_odds"]
    if not drops:
        return ""
    return (
        f"The mean grids average the {patching['n_in_mean']['log_odds']} pair(s) whose corruption lowers log_odds, weighted by "
        f"that drop (total recovered / total drop). Drop in log_odds: median {np.median(drops):.3f}, max {max(drops):.3f} nats."
    )


def render_html(data: dict) -> tuple[str, int]:
    """The self-contained page (one inlined copy of plotly.js, then every figure) and its number of figures."""
    import plotly.offline

    figs = _figures(data)
    sections = {"dla": [], "heads": [], "patching": [], "attribution": []}
    for i, (section, caption, fig) in enumerate(figs):
        fig.update_layout(template="plotly_white")
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"figure-{i}", config={"responsive": True})
        sections[section].append(f'<div class="figure">{div}<p class="caption">{html.escape(caption)}</p></div>')
    model, gate, dla, patching = data["model"], data["gate"], data["dla"], data["patching"]
    avm = dla["attention_vs_mlp"]
    answers = data["answer_tokens"]
    skipped = patching["skipped_length_mismatch"]
    skipped_text = (
        f"{len(skipped)} pair(s) skipped because clean and corrupted prompts have different token lengths: "
        + ", ".join(f"{s['id']} ({s['clean_tokens']} vs {s['corrupted_tokens']} tokens)" for s in skipped)
        if skipped
        else "No pair was skipped for a token-length mismatch."
    )
    top = lambda cells: ", ".join(f"L{l}H{h} ({v:+.2f})" for l, h, v in cells)
    corr = patching["correlation"]
    parts = [
        f"<h1>fk-bench interpretability report: {html.escape(model['name'])}</h1>",
        _table([
            ("model", f"{model['name']} ({model['spec']}, {model['device']}, {model['dtype']})"),
            ("dataset", data["settings"]["dataset_id"]),
            ("accuracy (gate)", f"{gate['accuracy']:.3f} ≥ min {gate['min_accuracy']}"),
            ("questions passing the filter", f"{gate['n_pass_filter']} of {gate['n_questions']} (prob_diff ≥ {gate['filter_threshold']}); analysed: {len(dla['questions'])}"),
            ("answer words used (single token)", ", ".join(answers["words"])),
            ("answer words skipped (several tokens)", ", ".join(answers["skipped_multi_token"]) or "none"),
            ("generated in", f"{data['seconds']['total']:.1f} s"),
        ]),
        "<h2>Direct logit attribution</h2>",
        "<p>Direction per question: mean unembedding of the correct answer group minus the incorrect group, times the final "
        "RMSNorm gain; residuals are scaled by the final norm's cached scale (<code>apply_ln_to_stack</code>), so each "
        "component is in logit_diff units and the components add up to the model's logit_diff.</p>",
        _table([
            ("summed increase over attention layers (layers ≥ 1)", _fmt(avm["attention"])),
            ("summed increase over MLP layers (layers ≥ 1)", _fmt(avm["mlp"])),
            ("MLP share of the net increase", f"{100 * avm['mlp_share_of_net_increase']:.0f}%" if math.isfinite(avm["mlp_share_of_net_increase"]) else "n/a"),
            ("largest single component", f"{dla['largest_component']['label']} ({dla['largest_component']['value']:+.3f})"),
        ]),
        *sections["dla"],
        "<h2>Layer and head attribution, attention patterns</h2>",
        f"<p>Top positive heads: {top(dla['top_heads']['positive'])}. Top negative heads: {top(dla['top_heads']['negative'])}.</p>",
        *sections["heads"],
        "<h2>Activation patching</h2>",
        f"<p>Clean run → <code>corrupted_question</code>; metric normalized so that 0 = corrupted run, 1 = clean run "
        f"(log_odds; logit_diff in report.json and below). {patching['n_pairs']} pair(s) patched; "
        f"{patching['n_without_corruption']} question(s) have no corrupted question. {_drop_text(patching)}</p>",
        f'<p class="note">{html.escape(skipped_text)}</p>',
        *sections["patching"],
    ]
    if data["settings"]["attribution"] and corr:
        parts += [
            "<h2>Attribution patching vs exact patching</h2>",
            "<p>Gradient × activation difference (2 forwards + 1 backward per pair) against exact patching, both as the change "
            "in log_odds (nats) over the corrupted run; Pearson's r over every cell of every pair (normalized grids are in report.json).</p>",
            _table([(site, f"r = {_fmt(value)}") for site, value in corr.items()]),
            *sections["attribution"],
        ]
    body = "\n".join(parts)
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>fk-bench report: {html.escape(model['name'])}</title><style>{_CSS}</style>"
        f"<script>{_ERROR_TRAP}</script><script>{plotly.offline.get_plotlyjs()}</script></head>"
        f'<body data-expected="{len(figs)}">\n{body}\n<script>{_RENDER_CHECK}</script></body></html>\n'
    )
    return page, len(figs)


# --------------------------------------------------------------------------------------------------
# Orchestration


def _did_not_pass(model_dir: Path, reason: str, result: Any, settings: ReportSettings) -> ReportResult:
    from fk_bench.files import write_json_atomic

    data = {
        "model": result.model,
        "reason": reason,
        "accuracy": result.summary["accuracy"],
        "min_accuracy": settings.min_accuracy,
        "n_questions": result.summary["n_questions"],
        "n_pass_filter": result.summary["n_pass_filter"],
        "filter_threshold": result.summary["filter_threshold"],
        "summary": result.summary,
        "settings": settings.to_json(),
    }
    write_json_atomic(model_dir / "did_not_pass.json", data)
    for stale in ("report.html", "report.json"):  # an earlier run's report no longer holds
        (model_dir / stale).unlink(missing_ok=True)
    return ReportResult(model_dir, False, data)


def _dla_section(bridge: Any, loaded: Any, rows: list[dict], answers: Any, settings: ReportSettings) -> dict:
    import torch
    from tqdm.auto import tqdm

    from fk_bench.prompts import build_prompt, encode
    from interp.attribution import attention_vs_mlp, logit_diff_directions, question_dla, top_heads

    directions = logit_diff_directions(loaded.model, answers, [row["answer"] for row in rows])
    results = []
    for row, direction in tqdm(list(zip(rows, directions)), desc="DLA", unit="q", disable=not settings.progress):
        tokens = torch.tensor(encode(loaded.tokenizer, build_prompt(row["question"], "plain")), device=loaded.device)
        results.append(question_dla(bridge, loaded.model, tokens, direction, answers, row["answer"]))
    per_layer = np.stack([r.per_layer for r in results])
    per_head_mean = np.stack([r.per_head for r in results]).mean(0)
    heads = top_heads(per_head_mean, settings.top_k)
    mean_layer = per_layer.mean(0)
    largest = int(np.argmax(np.abs(mean_layer[1:]))) + 1
    return {
        "lens_labels": results[0].lens_labels,
        "layer_labels": results[0].layer_labels,
        "questions": [{"id": row["id"], "question": row["question"], "answer": row["answer"], **r.to_json(with_patterns=False)} for row, r in zip(rows, results)],
        "logit_lens": _mean_std([r.logit_lens for r in results]),
        "per_layer": _mean_std([r.per_layer for r in results]),
        "per_head_mean": per_head_mean.tolist(),
        "per_head_std": np.stack([r.per_head for r in results]).std(0).tolist(),
        "attention_vs_mlp": attention_vs_mlp(per_layer),
        "attention_vs_mlp_all_layers": attention_vs_mlp(per_layer, skip_first_layer=False),
        "largest_component": {"label": results[0].layer_labels[largest], "value": float(mean_layer[largest])},
        "top_heads": heads,
        "pattern_questions": [
            {"id": row["id"], "question": row["question"], "tokens": r.tokens, "patterns": r.patterns.tolist()}
            for row, r in list(zip(rows, results))[: settings.pattern_questions]
        ],
    }


def _has_corruption(row: dict) -> bool:
    """Whether a question row has a corrupted question (missing ones arrive as None or NaN from pandas)."""
    return isinstance(row.get("corrupted_question"), str) and bool(row["corrupted_question"])


def _patching_section(loaded: Any, rows: list[dict], answers: Any, settings: ReportSettings) -> dict:
    from tqdm.auto import tqdm

    from fk_bench.prompts import build_prompt, encode
    from interp.patching import METRICS, SITES, patch_pair

    pairs, skipped, without = [], [], 0
    todo = []
    for row in rows:
        if not _has_corruption(row):
            without += 1
            continue
        clean, corrupted = build_prompt(row["question"], "plain"), build_prompt(row["corrupted_question"], "plain")
        n_clean, n_corrupted = len(encode(loaded.tokenizer, clean)), len(encode(loaded.tokenizer, corrupted))
        if n_clean != n_corrupted:
            skipped.append({"id": row["id"], "clean_tokens": n_clean, "corrupted_tokens": n_corrupted})
        else:
            todo.append((row, clean, corrupted))
    ids = answers.id_tensor(loaded.device)
    for row, clean, corrupted in tqdm(todo, desc="patching", unit="pair", disable=not settings.progress):
        pairs.append(patch_pair(loaded.model, loaded.tokenizer, row["id"], clean, corrupted, row["answer"], ids, answers.is_true_word, settings.attribution))
    drops = {m: [p.clean[m] - p.corrupted[m] for p in pairs] for m in METRICS}
    in_mean = {m: [i for i, drop in enumerate(drops[m]) if drop > settings.min_patch_delta] for m in METRICS}
    mean = {
        m: {s: weighted_aligned_mean([pairs[i].exact[m][s] for i in in_mean[m]], [drops[m][i] for i in in_mean[m]]).tolist() for s in SITES}
        for m in METRICS
        if in_mean[m]
    }
    correlation = {}
    if settings.attribution and pairs:  # on changes in nats: normalizing by small drops would let noisy pairs dominate
        in_nats = lambda grids, site: np.concatenate([(g[site] * drop).ravel() for g, drop in zip(grids, drops["log_odds"])])
        exact, estimated = [p.exact["log_odds"] for p in pairs], [p.attribution for p in pairs]
        correlation = {site: pearson(in_nats(exact, site), in_nats(estimated, site)) for site in SITES}
    return {
        "n_pairs": len(pairs),
        "n_in_mean": {m: len(in_mean[m]) for m in METRICS},
        "drops": drops,
        "n_without_corruption": without,
        "skipped_length_mismatch": skipped,
        "pairs": [p.to_json() for p in pairs],
        "mean": mean,
        "correlation": correlation,
        "mean_positions": "aligned on the last token: column -k is k positions before the end",
    }


def build_report(loaded: Any, questions: Any, groups: Any, out_dir: str | Path, settings: ReportSettings | None = None) -> ReportResult:
    """Gate ``loaded`` on ``questions``, then write its report under ``out_dir/<model-name>/``."""
    from fk_bench.evaluation import evaluate
    from fk_bench.files import write_json_atomic, write_text_atomic
    from fk_bench.models import load_bridge
    from fk_bench.prompts import build_prompt
    from interp.attribution import single_token_answers

    settings = settings or ReportSettings()
    start = time.perf_counter()
    model_dir = Path(out_dir) / loaded.name
    result = evaluate(loaded, questions, groups, filter_threshold=settings.filter_threshold, dataset_id=settings.dataset_id, progress=settings.progress)
    seconds = {"evaluation": time.perf_counter() - start}
    accuracy = result.summary["accuracy"]
    if accuracy < settings.min_accuracy:
        return _did_not_pass(model_dir, f"accuracy {accuracy:.3f} is below the minimum {settings.min_accuracy}", result, settings)
    table = result.questions[result.questions["passes_filter"]]
    if table.empty:
        return _did_not_pass(model_dir, f"no question passes the per-question filter (prob_diff >= {settings.filter_threshold})", result, settings)
    rows = table.head(settings.max_questions).to_dict(orient="records") if settings.max_questions else table.to_dict(orient="records")
    prompts = [build_prompt(row["question"], "plain") for row in rows]
    prompts += [build_prompt(row["corrupted_question"], "plain") for row in rows if _has_corruption(row)]
    answers = single_token_answers(loaded.tokenizer, prompts, groups)

    t = time.perf_counter()
    bridge = load_bridge(loaded)
    seconds["bridge"] = time.perf_counter() - t
    t = time.perf_counter()
    dla = _dla_section(bridge, loaded, rows, answers, settings)
    seconds["dla"] = time.perf_counter() - t
    t = time.perf_counter()
    patching = _patching_section(loaded, rows, answers, settings)
    seconds["patching"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start
    metric_columns = ["id", "question", "answer", "corrupted_question", "log_odds", "logit_diff", "prob_diff"]
    data = {
        "model": result.model,
        "settings": settings.to_json(),
        "gate": {"accuracy": accuracy, "min_accuracy": settings.min_accuracy, "n_questions": result.summary["n_questions"], "n_pass_filter": result.summary["n_pass_filter"], "filter_threshold": settings.filter_threshold, "summary": result.summary},
        "answer_tokens": answers.to_json(),
        "questions": table.head(len(rows))[metric_columns].astype(object).where(table.head(len(rows))[metric_columns].notna(), None).to_dict(orient="records"),
        "dla": dla,
        "patching": patching,
        "seconds": seconds,
    }
    page, data["n_figures"] = render_html(data)
    write_json_atomic(model_dir / "report.json", data)
    write_text_atomic(model_dir / "report.html", page)
    (model_dir / "did_not_pass.json").unlink(missing_ok=True)  # from an earlier run that did not pass
    return ReportResult(model_dir, True, data, seconds)
