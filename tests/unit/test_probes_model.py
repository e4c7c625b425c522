"""``interp.probes`` end to end on a tiny random model with a PLANTED truth direction.

A hook adds +s·v to every true question's residual (and -s·v to every false one's) at the last
position before block 1, with v the direction that moves the answer toward "Yes": the probe must
recover v, read the truth from layer 1 on (not from the embeddings), the shuffled control must sit
near chance, and steering along the mass-mean direction must flip more answers than a random
direction of the same norm. probe.json is read back with the one reader; the page is self-contained.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from support.interp import build_family_model

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.spec import RunSpec
from interp.probes.activations import Activations
from interp.probes.fitting import cosine, mass_mean_direction
from interp.probes.probe_defaults import ACTIVATIONS_DIR, PROBE_HTML
from interp.probes.probe_schema import read_probe
from interp.probes.run import ProbeSettings, build_probe
from interp.study.report_build import evaluate_for_report

SUBJECTS = ["Paris", "Rome", "Berlin", "Madrid", "Tokyo", "Kyoto", "Lima", "Oslo", "Bern", "Cairo", "Dakar", "Quito", "Riga", "Sofia", "Minsk"]
OBJECTS = ["France", "Italy", "Germany", "Spain", "Japan", "Peru", "Norway", "Egypt"]


def write_pairs(path: Path) -> Path:
    """30 pairs over two relations in two domains (rows: true question, then its twin)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "answer", "corrupted_question", "pair_id", "relation", "domain", "subject", "object"])
        for number in range(30):
            subject = SUBJECTS[number % len(SUBJECTS)]
            right, wrong = OBJECTS[number % len(OBJECTS)], OBJECTS[(number * 3 + 1) % len(OBJECTS)]
            if right == wrong:
                wrong = OBJECTS[(number + 2) % len(OBJECTS)]
            relation, domain, template = (
                ("capital_of", "geography", "Is {} the capital of {}?") if number % 2 else ("born_in", "people", "Was {} born in {}?")
            )
            first, second = template.format(subject, right), template.format(subject, wrong)
            writer.writerow([f"p{number}-t", first, True, second, f"p{number}", relation, domain, subject, right])
            writer.writerow([f"p{number}-f", second, False, first, f"p{number}", relation, domain, subject, wrong])
    return path


def yes_direction(model) -> np.ndarray:
    """The residual direction that raises the True words' logits over the False words' (unembedding columns)."""
    from interp.core.answer_tokens import single_token_answers

    answers = single_token_answers(model.tokenizer, ["Is Paris the capital of France?\n"], DEFAULT_GROUPS)
    w = model.bridge.W_U.detach().double().cpu().numpy()[:, list(answers.ids)]
    is_true = np.array(answers.is_true_word)
    v = w[:, is_true].mean(axis=1) - w[:, ~is_true].mean(axis=1)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    loaded = build_family_model("llama", root / "model")
    questions = load_questions(str(write_pairs(root / "pairs.csv")))
    spec = RunSpec(model=loaded.spec, prompt_format="plain", dtype="float32", device="cpu", dataset=questions.dataset)
    run = evaluate_for_report(loaded, questions, DEFAULT_GROUPS, spec, progress=False)
    labels = run.questions["answer"].to_numpy(dtype=bool)
    state: dict = {}

    def batch_hooks(rows):
        model = state["model"]
        v = torch.tensor(state["v"] * state["strength"], dtype=model.dtype)
        # the probe's rows are in pair order: the row's label is its parity (true first)
        signs = torch.tensor([1.0 if state["labels"][i] else -1.0 for i in rows], dtype=model.dtype)

        def plant(x, hook):
            x = x.clone()
            x[:, -1] += signs[:, None] * v
            return x

        return [("blocks.1.hook_resid_pre", plant)]

    from interp.core.model import InterpModel

    original_boot = InterpModel.boot

    def boot(loaded_model):  # catch the booted model to read its unembedding (the hook needs v)
        model = original_boot(loaded_model)
        state["model"] = model
        state["v"] = yes_direction(model)
        state["strength"] = 400.0
        return model

    InterpModel.boot = staticmethod(boot)  # type: ignore[method-assign]
    try:
        state["labels"] = np.tile([True, False], len(labels) // 2)
        folder, report = build_probe(loaded, run, DEFAULT_GROUPS, root / "out", settings=ProbeSettings(n_resamples=100), batch_hooks=batch_hooks)
    finally:
        InterpModel.boot = original_boot  # type: ignore[method-assign]
    return folder, report, state


def test_the_probe_recovers_the_planted_direction(probed):
    folder, report, state = probed
    acts = Activations(folder / ACTIVATIONS_DIR, report.model.n_layers + 1)
    x = acts.layer("last", 1).astype(np.float64)
    direction, _ = mass_mean_direction(x, np.tile([True, False], len(x) // 2))
    assert cosine(direction, state["v"]) > 0.9


def test_the_probe_reads_the_truth_where_it_was_planted_and_not_from_the_embeddings(probed):
    _, report, _ = probed
    by_layer = {entry.layer: entry for entry in report.layers}
    assert by_layer[1].paired_accuracy == 1.0 and by_layer[1].accuracy > 0.95
    assert report.best_layer >= 1 and report.best.paired_accuracy == 1.0
    assert report.layers[0].accuracy < 0.8  # the last token's embedding ("?\n") carries no truth
    assert all(abs(entry.control_accuracy - 0.5) < 0.2 for entry in report.layers)
    assert by_layer[1].selectivity > 0.3


def test_steering_along_the_direction_flips_more_than_a_random_direction(probed):
    _, report, _ = probed
    steering = report.steering
    assert steering is not None and steering.layer == report.best_layer
    assert steering.flipped_share is not None and steering.flipped_share > 0.9
    assert steering.random_flipped_share is not None and steering.flipped_share > steering.random_flipped_share + 0.3
    assert steering.mean_shift > steering.random_mean_shift


def test_probe_json_round_trips_and_names_what_made_it(probed):
    folder, report, _ = probed
    again = read_probe(folder)
    assert again == report
    assert again.prompt_format == "plain" and again.dtype == "float32" and again.n_pairs == 30
    assert again.transfer.domains == ["geography", "people"] and len(again.transfer.matrix) == 2
    assert set(again.gap_per_relation) == {"born_in", "capital_of"}
    assert again.gap.value is not None and again.gap.value == pytest.approx(again.best.paired_accuracy - again.output_paired_accuracy)
    page = (folder / PROBE_HTML).read_text(encoding="utf-8")
    assert page.count('class="figure"') == 4 and "<script src=" not in page
    assert again.model.name in page and "plain prompt" in page


def test_the_compare_column_has_a_cell_per_relation_and_the_whole_run(probed):
    from interp.probes.gap_column import COLUMN, gap_text, load_probe_column

    folder, report, _ = probed
    column = load_probe_column([folder.parent])
    name = report.model.name
    assert set(column) == {(name, "plain", "all"), (name, "plain", "born_in"), (name, "plain", "capital_of")}
    assert column[name, "plain", "all"] == gap_text(report.gap) and column[name, "plain", "all"].startswith(("+", "-"))
    assert COLUMN == "probe − output"


def test_the_section_context_gives_figures_that_name_model_format_dtype_and_data(probed):
    from interp.probes.probe_page import made_by, probe_figures, probe_section_context

    _, report, _ = probed
    context = probe_section_context(report, offset=7)
    assert [f["kind"] for f in context["figures"]] == ["layers", "gap", "transfer", "steering"]
    assert 'id="probe-figure-7"' in context["figures"][0]["html"]
    label = made_by(report)
    assert "plain prompt" in label and "float32" in label and "pairs.csv" in label
    for _, _, figure in probe_figures(report):
        assert label in figure.layout.title.text


def test_a_probe_json_with_a_share_out_of_range_is_refused(probed, tmp_path):
    import json

    from fk_bench.errors import FkBenchError

    folder, _, _ = probed
    data = json.loads((folder / "probe.json").read_text(encoding="utf-8"))
    data["layers"][0]["accuracy"] = 1.5
    (tmp_path / "probe.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FkBenchError, match=r"layers\.0\.accuracy"):
        read_probe(tmp_path)
