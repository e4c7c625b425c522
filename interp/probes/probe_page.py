"""The probe page and its report section: per-layer curves with the control and interval bands, the
gap per relation, the transfer heatmap and the steering effect.

Every figure's title says which model, prompt format, dtype and data made it (:func:`made_by`); every
text from the run (model and relation names, domains) reaches plotly through
:func:`fk_bench.pages.plain_text` and the template through autoescaping. :func:`probe_section_context`
gives what ``templates/probe_section.html.j2`` needs, so that ``fk-bench report`` can show the same
section (``{% include "probe_section.html.j2" %}`` with ``probe=probe_section_context(report, offset)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fk_bench.pages import plain_text
from fk_bench.prompt_formats import prompt_label
from fk_bench.spec import dataset_label

TEMPLATES = Path(__file__).parent / "templates"
COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#57606a")


def made_by(report: Any) -> str:
    """What made the numbers, for every figure's title: model, prompt format, dtype and data."""

    return plain_text(
        f"{report.model.name}, {prompt_label(report.prompt_format, report.fewshot_k)} prompt, {report.dtype}, {dataset_label(report.dataset)}, "
        f"relation {report.relation}, {report.n_pairs} pairs"
    )


def _band(x: list[int], mean: list[float], low: list[float | None], high: list[float | None], color: str, name: str) -> list[Any]:
    import plotly.graph_objects as go

    traces = [go.Scatter(x=x, y=mean, mode="lines+markers", name=name, line={"color": color})]
    if all(v is not None for v in low + high):
        traces.append(
            go.Scatter(
                x=x + x[::-1],
                y=high + low[::-1],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0},
                name=f"{name} 95% CI",
                hoverinfo="skip",
            )
        )
    return traces


def layer_figure(report: Any) -> Any:
    import plotly.graph_objects as go

    layers = report.layers
    x = [entry.layer for entry in layers]
    traces = _band(x, [e.paired_accuracy for e in layers], [e.ci_low for e in layers], [e.ci_high for e in layers], COLORS[0], "logistic probe")
    traces += _band(
        x,
        [e.mass_mean_paired_accuracy for e in layers],
        [e.mass_mean_ci_low for e in layers],
        [e.mass_mean_ci_high for e in layers],
        COLORS[2],
        "mass-mean probe",
    )
    traces.append(
        go.Scatter(
            x=x, y=[e.control_paired_accuracy for e in layers], mode="lines", name="shuffled-label control", line={"dash": "dot", "color": COLORS[5]}
        )
    )
    traces.append(
        go.Scatter(x=x, y=[e.object_paired_accuracy for e in layers], mode="lines", name="mass-mean at the object token", line={"color": COLORS[3]})
    )
    fig = go.Figure(traces)
    fig.add_hline(y=report.output_paired_accuracy, line={"color": COLORS[1], "dash": "dash"}, annotation_text="the output")
    fig.add_hline(y=0.5, line={"color": "#999", "width": 1}, annotation_text="chance")
    fig.add_vline(x=report.best_layer, line={"color": "#999", "dash": "dot"}, annotation_text="chosen layer")
    fig.update_layout(
        title=f"Paired accuracy of truth probes per layer (held out, pair-grouped {report.settings.get('n_folds')}-fold CV): {made_by(report)}",
        xaxis_title=f"layer (0: token embeddings; {report.model.n_layers}: final residual)",
        yaxis_title="paired accuracy",
        yaxis_range=[0, 1.02],
        height=460,
    )
    return fig


def gap_figure(report: Any) -> Any:
    import plotly.graph_objects as go

    names = list(report.gap_per_relation)
    gaps = [report.gap_per_relation[n] for n in names]
    values = [g.value if g.value is not None else 0.0 for g in gaps]
    plus = [None if g.ci_high is None or g.value is None else g.ci_high - g.value for g in gaps]
    minus = [None if g.ci_low is None or g.value is None else g.value - g.ci_low for g in gaps]
    fig = go.Figure(
        go.Bar(x=[plain_text(n) for n in names], y=values, error_y={"type": "data", "array": plus, "arrayminus": minus}, marker_color=COLORS[0])
    )
    fig.update_layout(
        title=f"Knows vs says per relation: probe minus output paired accuracy (95% paired bootstrap): {made_by(report)}",
        yaxis_title="probe − output",
        height=420,
    )
    return fig


def transfer_figure(report: Any) -> Any:
    import plotly.graph_objects as go

    domains = [plain_text(d) for d in report.transfer.domains]
    fig = go.Figure(
        go.Heatmap(
            z=report.transfer.matrix,
            x=domains,
            y=domains,
            zmin=0,
            zmax=1,
            colorscale="RdBu",
            zmid=0.5,
            texttemplate="%{z:.2f}",
            colorbar={"title": "accuracy"},
        )
    )
    fig.update_layout(
        title=f"Transfer at layer {report.best_layer}: trained on a domain (rows), tested on each (columns): {made_by(report)}",
        xaxis_title="tested on",
        yaxis_title="trained on",
        height=440,
    )
    return fig


def steering_figure(report: Any) -> Any:
    import plotly.graph_objects as go

    steering = report.steering
    shares = [steering.flipped_share or 0.0, steering.random_flipped_share or 0.0]
    fig = go.Figure(go.Bar(x=["mass-mean direction", "random direction, same norm"], y=shares, marker_color=[COLORS[0], COLORS[5]]))
    fig.update_layout(
        title=f"Steering at layer {steering.layer}: share of answers flipped ({steering.n_eligible} could flip): {made_by(report)}",
        yaxis_title="flipped share",
        yaxis_range=[0, 1],
        height=400,
    )
    return fig


def probe_figures(report: Any) -> list[tuple[str, str, Any]]:
    """(kind, caption, figure) of every figure the report has data for."""
    figures = [
        ("layers", "Held-out paired accuracy per layer; the control is trained on labels swapped at random within pairs.", layer_figure(report)),
        ("gap", "Above 0 with an interval clear of 0: the model knows more than it says on that relation.", gap_figure(report)),
    ]
    if len(report.transfer.domains) > 1:
        figures.append(("transfer", "The diagonal is grouped cross-validation within the domain.", transfer_figure(report)))
    if report.steering is not None:
        figures.append(
            (
                "steering",
                "Questions pushed against their label at the last position; the random direction is the negative control.",
                steering_figure(report),
            )
        )
    return figures


def probe_section_context(report: Any, offset: int = 0) -> dict[str, Any]:
    """What ``probe_section.html.j2`` shows: the report, its figures as HTML (ids from ``offset``) and its headline rows."""
    from fk_bench.pages import figure_html

    figures = [
        {"kind": kind, "caption": caption, "html": figure_html(fig, f"probe-figure-{offset + i}")}
        for i, (kind, caption, fig) in enumerate(probe_figures(report))
    ]
    return {"report": report, "figures": figures, "made_by": made_by(report)}


def render_probe_page(report: Any) -> str:
    """The self-contained probe.html (the shared page shell, plotly inlined)."""
    from fk_bench.pages import render_page

    context = probe_section_context(report)
    return render_page("probe.html.j2", search_path=[TEMPLATES], probe=context, expected_figures=len(context["figures"]))
