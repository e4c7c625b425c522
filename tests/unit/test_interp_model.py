"""The one model object: booting the bridge keeps the evaluator's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.interp import CLEAN, build_family_model, tiny_answers

from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from interp.core.model import InterpModel


@pytest.mark.parametrize("family", ["gemma3", "gpt2"])
def test_booted_model_gives_the_evaluators_scores(tmp_path, family):
    """The same log P(word | prompt) as ``fk-bench eval`` for the one-token answer words, after booting:
    the weights are not processed, so even raw logits stay the model's own."""
    from fk_bench.answers import DEFAULT_GROUPS

    loaded = build_family_model(family, tmp_path / family)
    (tmp_path / "q.csv").write_text(f"question,answer\n{CLEAN.strip()},true\n")
    result = evaluate(loaded, load_questions(str(tmp_path / "q.csv")), DEFAULT_GROUPS, progress=False)
    answers = tiny_answers(loaded)
    before = loaded.model(torch.tensor([loaded.tokenizer.encode(CLEAN)])).logits[0, -1].detach()
    model = InterpModel.boot(loaded)
    with torch.no_grad():
        after = model.bridge(model.tensor(model.tokens(CLEAN))[None])[0, -1]
    torch.testing.assert_close(after, before, rtol=0, atol=1e-4)
    scores = np.array([result.frame[f"score[{word}]"].iloc[0] for word in answers.words])
    np.testing.assert_allclose(after.log_softmax(-1)[answers.id_tensor()].double().numpy(), scores, rtol=0, atol=1e-4)
    assert model.n_layers == 2 and model.architecture == type(loaded.model).__name__
