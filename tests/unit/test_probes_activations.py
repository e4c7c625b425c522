"""The gathered activations are the model's own: the batched pass with the shared prefix's cache equals one
plain forward per prompt (every layer, both positions, within float16), on tiny models of several families."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.interp import booted_family

from interp.probes.activations import gather
from interp.probes.inputs import object_last_tokens

PROMPTS = [
    "Is Paris the capital of France?\n",
    "Is Paris the capital of Italy?\n",
    "Is Rome in Italy?\n",
    "Is Rome in the Eiffel Tower?\n",  # another length: another batch
    "Is Berlin the capital of Germany?\n",
    "Is Madrid the capital of Spain?\n",
]
OBJECTS = ["France", "Italy", "Italy", "the Eiffel Tower", "Germany", "Spain"]


@pytest.mark.parametrize("family", ["gemma3", "llama", "gpt2"])
def test_batched_prefix_cached_gather_equals_one_forward_per_prompt(family, tmp_path):
    from fk_bench.prompts import encode_batch

    _, model, _ = booted_family(family)
    tokens, spans = encode_batch(model.tokenizer, PROMPTS, offsets=True)
    assert spans is not None
    questions = [p.rstrip("\n") for p in PROMPTS]
    objects = object_last_tokens(PROMPTS, spans, questions, [None] * 6, OBJECTS, [None] * 6)
    assert (objects > 0).all() and all(objects[i] < len(tokens[i]) - 1 for i in range(6))
    acts = gather(model, tokens, objects, tmp_path / "acts", batch_size=2)
    assert acts.n_layers == model.n_layers + 1 and acts.n_clipped == 0
    names = [f"blocks.{layer}.hook_resid_pre" for layer in range(model.n_layers)] + ["ln_final.hook_in"]
    for i, ids in enumerate(tokens):
        with torch.no_grad():
            _, cache = model.bridge.run_with_cache(model.tensor(ids)[None], names_filter=names)
        for layer, name in enumerate(names):
            want = cache[name][0].float().numpy()
            for position, at in (("last", len(ids) - 1), ("object", int(objects[i]))):
                got = acts.layer(position, layer)[i]
                np.testing.assert_allclose(got, want[at], rtol=2e-3, atol=2e-3 * np.abs(want[at]).max())


def test_object_position_is_the_last_token_of_the_object(tmp_path):
    from fk_bench.prompts import encode_batch

    _, model, _ = booted_family("llama")
    prompt = "Is Rome in the Eiffel Tower?\n"
    _, spans = encode_batch(model.tokenizer, [prompt], offsets=True)
    assert spans is not None
    (position,) = object_last_tokens([prompt], spans, [prompt.rstrip()], [None], ["the Eiffel Tower"], [None])
    a, b = spans[0][position]
    assert a < prompt.index("?") <= b  # the token that holds the object's last character
    missing = object_last_tokens([prompt], spans, [prompt.rstrip()], [None], ["Atlantis"], [None])
    assert missing.tolist() == [-1]
