"""Corruptions: where the subject and object are, token roles in every prompt format, alignment by
role of prompts of different lengths (and patching through it), and ROME's seeded noise and its scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support import build_tiny_tokenizer
from support.interp import CHAT_TEMPLATE, CLEAN, FAMILIES, booted_family

from fk_bench.errors import FkBenchError
from fk_bench.prompts import build_prompt, encode
from interp.core import corruption, edits, runner
from interp.core.studied_pairs import shared_prefix_length
from interp.patching import activation_patching as patching

QUESTION = CLEAN.strip()
TWIN = "Is Paris the capital of Italy?"
LONG_TWIN = "Is Paris the capital of United Kingdom?"  # 14 tokens of object in the tiny tokenizer, against 1


def roles_of(tokenizer, question: str, prompt_format: str = "plain", obj: str | None = "France", twin: str | None = TWIN) -> corruption.TokenRoles:
    examples = [{"question": "Is Rome in Italy?", "answer": True}, {"question": "Is Paris the capital of Italy?", "answer": False}]
    prompt = build_prompt(question, prompt_format, tokenizer, examples)
    return corruption.token_roles(tokenizer, prompt, encode(tokenizer, prompt), question, "Paris", obj, twin)


def texts(tokenizer, roles: corruption.TokenRoles, role: str) -> str:
    return "".join(roles.prompt[a:b] for (a, b), r in zip(roles.offsets, roles.roles) if r == role)


@pytest.mark.parametrize(
    ("question", "subject", "obj", "twin", "expected"),
    [
        (QUESTION, "Paris", "France", TWIN, ("Paris", "France")),
        # The same name twice: the object is the occurrence where the twin differs, the subject the other one.
        (
            "Is Luxembourg the capital of Luxembourg?",
            "Luxembourg",
            "Luxembourg",
            "Is Luxembourg the capital of Belgium?",
            ("Luxembourg", "Luxembourg"),
        ),
        ("Is 116 the atomic number of livermorium?", "livermorium", "116", "Is 115 the atomic number of livermorium?", ("livermorium", "116")),
        ("Is .bs the country code top-level domain of the Bahamas?", "bahamas", ".bs", None, ("Bahamas", ".bs")),  # any case
        ("Is +961 the calling code of Lebanon?", "Lebanon", None, "Is +963 the calling code of Lebanon?", ("Lebanon", "+961")),  # from the twin
    ],
)
def test_question_spans(question, subject, obj, twin, expected):
    subject_span, object_span = corruption.question_spans(question, subject, obj, twin)
    assert (question[slice(*subject_span)], question[slice(*object_span)]) == expected
    assert subject_span[1] <= object_span[0] or object_span[1] <= subject_span[0]


def test_differing_span_is_whole_words():
    assert corruption.differing_span("Is Italy big?", "Is Germany big?") == (3, 8)  # "Italy", not "Ital" (they share the "y")
    assert corruption.differing_span("same", "same") == (4, 4)


@pytest.mark.parametrize("prompt_format", ["plain", "fewshot", "chat"])
def test_token_roles_in_every_prompt_format(prompt_format):
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    roles = roles_of(tokenizer, QUESTION, prompt_format)
    assert roles.roles[0] == "prefix" and roles.roles[-1] == "last"
    assert texts(tokenizer, roles, "subject").strip() == "Paris" and texts(tokenizer, roles, "object").strip() == "France"
    relation = [roles.prompt[a:b].strip() for (a, b), r in zip(roles.offsets, roles.roles) if r == "relation"]
    assert relation == ["Is", "the", "capital", "of", "?"]
    prefix_text = texts(tokenizer, roles, "prefix")
    if prompt_format == "fewshot":
        assert "Is Rome in Italy?\nYes" in prefix_text  # the examples are prefix, their "Italy" is no object
    if prompt_format == "chat":
        assert "You answer questions." in prefix_text and texts(tokenizer, roles, "suffix").startswith("\n<|assistant|>")
    # Roles come in the prompt's order.
    order = [corruption.ROLES.index(r) for r in roles.roles if r in ("prefix", "suffix", "last")]
    assert order == sorted(order)
    assert roles.labels()[roles.positions("object")[0]] == "object"


def test_token_roles_refuse_a_question_that_is_not_in_the_prompt():
    tokenizer = build_tiny_tokenizer()
    with pytest.raises(FkBenchError, match="not in its prompt"):
        corruption.token_roles(tokenizer, CLEAN, encode(tokenizer, CLEAN), "Is Rome in Italy?", "Rome", "Italy")


def test_alignment_of_prompts_of_different_lengths():
    tokenizer = build_tiny_tokenizer()
    clean = roles_of(tokenizer, QUESTION, twin=LONG_TWIN)
    corrupted = roles_of(tokenizer, LONG_TWIN, obj="United Kingdom", twin=QUESTION)
    assert len(corrupted) - len(clean) >= 10
    alignment = corruption.align(clean, corrupted)
    assert alignment.by_role and len(alignment.to_clean) == len(corrupted) and len(alignment.to_corrupted) == len(clean)
    start = shared_prefix_length(encode(tokenizer, clean.prompt), encode(tokenizer, corrupted.prompt))
    assert alignment.to_clean[:start] == tuple(range(start))  # the shared prefix stays in place
    # Every corrupted position takes a clean position of the same role; the object's ends map to the object's ends.
    for j, i in enumerate(alignment.to_clean):
        assert corrupted.roles[j] == clean.roles[i], (j, i)
    clean_object, corrupted_object = clean.positions("object"), corrupted.positions("object")
    assert alignment.to_clean[corrupted_object[0]] == clean_object[0] and alignment.to_clean[corrupted_object[-1]] == clean_object[-1]
    assert alignment.to_corrupted[clean_object[0]] == corrupted_object[-1]  # one clean object token: the last corrupted one
    assert list(alignment.to_clean) == sorted(alignment.to_clean)
    same = corruption.align(clean, roles_of(tokenizer, TWIN, obj="Italy", twin=QUESTION))
    assert not same.by_role and same.to_clean == tuple(range(len(clean)))


@pytest.mark.parametrize("family", FAMILIES)
def test_patching_through_an_alignment_equals_hand_written_patches(family):
    """A pair of different token lengths is patched, not skipped: every cell of the aligned grid equals a
    plain hooked forward writing the aligned clean activation at that corrupted position."""
    _, model, answers = booted_family(family)
    ids = answers.id_tensor()
    clean_prompt, corrupted_prompt = CLEAN, LONG_TWIN + "\n"
    clean_tokens, corrupted_tokens = model.tokens(clean_prompt), model.tokens(corrupted_prompt)
    clean_roles = corruption.token_roles(model.tokenizer, clean_prompt, clean_tokens, QUESTION, "Paris", "France", LONG_TWIN)
    corrupted_roles = corruption.token_roles(model.tokenizer, corrupted_prompt, corrupted_tokens, LONG_TWIN, "Paris", "United Kingdom", QUESTION)
    alignment = corruption.align(clean_roles, corrupted_roles)
    start = shared_prefix_length(clean_tokens, corrupted_tokens)
    with torch.no_grad():
        _, cache = model.bridge.run_with_cache(model.tensor(clean_tokens)[None])
    aligned = corruption.align_sites(patching.clean_sites(cache, model.n_layers, start), alignment, start)
    exact = patching.exact_grids(model, corrupted_tokens, aligned, start, ids, sites=("resid_pre", "mlp_out", "head_out"))
    assert exact.grids["resid_pre"].shape[:2] == (model.n_layers, len(corrupted_tokens) - start)
    corrupted = model.tensor(corrupted_tokens)[None]
    for site_name, layer, index in [
        ("resid_pre", 0, start),
        ("resid_pre", 1, len(corrupted_tokens) - 2),
        ("mlp_out", 1, start + 5),
        ("head_out", 1, 2),
    ]:
        hook_name = edits.SITE_TABLE[site_name].hook(layer)
        source = cache[hook_name][0]

        def write(x, hook, site_name=site_name, index=index, source=source):
            if site_name == "head_out":
                x[0, start:, index] = source[list(alignment.to_clean[start:]), index]
            else:
                x[0, index] = source[alignment.to_clean[index]]
            return x

        with torch.no_grad():
            reference = model.bridge.run_with_hooks(corrupted, fwd_hooks=[(hook_name, write)])[0, -1, ids]
        cell = index if site_name == "head_out" else index - start
        ours = exact.grids[site_name][layer, cell]
        assert float(answers.log_odds(ours)) == pytest.approx(float(answers.log_odds(reference)), abs=1e-4), (site_name, layer, index)


@pytest.mark.parametrize("family", ["gemma3", "gpt2"])
def test_noise_scale_is_three_embedding_stds_over_the_vocabulary(family):
    """The std of every coordinate of the embedding module's output (Gemma's sqrt(d_model) scale
    included), pooled over the vocabulary, computed here with numpy from the weights."""
    _, model, _ = booted_family(family)
    embed = model.bridge.embed.original_component
    rows = min(len(model.tokenizer), embed.weight.shape[0])
    gain = float(getattr(embed, "embed_scale", 1.0))
    expected = np.std(embed.weight[:rows].detach().double().numpy() * gain)
    scale = corruption.noise_scale(model)
    assert scale.std == pytest.approx(expected, rel=1e-9) and scale.scale == pytest.approx(3 * expected, rel=1e-9)
    assert scale.basis == "vocabulary" and scale.n_tokens == rows
    some = corruption.noise_scale(model, factor=2.0, token_ids=[5, 6, 7])
    assert some.std == pytest.approx(np.std(embed.weight[[5, 6, 7]].detach().double().numpy() * gain), rel=1e-9) and some.basis == "given tokens"
    assert some.to_json()["scale"] == pytest.approx(2 * some.std)


@pytest.mark.parametrize("family", ["gemma3", "gpt2", "qwen2"])
def test_noise_is_seeded_and_lands_on_its_span_only(family):
    _, model, _ = booted_family(family)
    tokens = model.tokens(CLEAN)
    roles = corruption.token_roles(model.tokenizer, CLEAN, tokens, QUESTION, "Paris", "France", TWIN)
    scale = corruption.noise_scale(model)
    noise = corruption.noise_for(model, roles, "subject", scale, seed=7, key="pair-1")
    again = corruption.noise_for(model, roles, "subject", scale, seed=7, key="pair-1")
    other = corruption.noise_for(model, roles, "subject", scale, seed=7, key="pair-2")
    torch.testing.assert_close(noise.values, again.values, rtol=0, atol=0)
    assert not torch.equal(noise.values, other.values) and noise.positions == roles.positions("subject")
    assert float(noise.values.std()) == pytest.approx(scale.scale, rel=0.5)  # 64-96 draws
    x = model.tensor(tokens)[None]
    with torch.no_grad():
        _, plain = model.bridge.run_with_cache(x, names_filter="hook_embed")
        with model.bridge.hooks(fwd_hooks=[noise.hook(0)]):
            _, noised = model.bridge.run_with_cache(x, names_filter="hook_embed")
        # After a prefix cache of 3 positions, the hook adds the same noise at the same absolute positions.
        prefix = runner.prefix_cache(model, model.tensor(tokens), 3)
        with model.bridge.hooks(fwd_hooks=[noise.hook(3)]):
            _, suffix = model.bridge.run_with_cache(x[:, 3:], names_filter="hook_embed", cache=prefix, use_cache=True)
    delta = (noised["hook_embed"] - plain["hook_embed"])[0]
    changed = delta.abs().sum(-1).nonzero().ravel().tolist()
    assert changed == list(noise.positions)
    torch.testing.assert_close(delta[list(noise.positions)], noise.values, rtol=0, atol=1e-5)
    torch.testing.assert_close(suffix["hook_embed"][0], noised["hook_embed"][0, 3:], rtol=0, atol=1e-5)


def test_noise_refuses_an_empty_span():
    _, model, _ = booted_family("llama")
    tokens = model.tokens(CLEAN)
    roles = corruption.token_roles(model.tokenizer, CLEAN, tokens, QUESTION, None, "France", TWIN)  # no subject given
    with pytest.raises(FkBenchError, match="no subject tokens"):
        corruption.noise_for(model, roles, "subject", corruption.noise_scale(model), 0, "p")
    with pytest.raises(FkBenchError, match="noise span 'verb'"):
        corruption.noise_for(model, roles, "verb", corruption.noise_scale(model), 0, "p")


@pytest.mark.embedded
def test_every_packaged_pair_gets_roles_and_an_alignment_on_the_embedded_tokenizer():
    """Nothing is skipped: every true question of the packaged ``all`` config and its twin have subject
    and object tokens with the embedded model's tokenizer (plain prompts), and twins of another token
    length are aligned by role."""
    from pathlib import Path

    import pandas as pd
    from support.interp import private_embedded_model

    import fk_bench

    tokenizer = private_embedded_model().tokenizer
    table = pd.read_parquet(Path(fk_bench.__file__).parent / "resources/fk_yesno/all/test.parquet")
    by_question = table.set_index("question")
    aligned = 0
    for row in table[table["answer"]].itertuples():
        twin = by_question.loc[row.corrupted_question]
        prompts = (CLEAN.replace(QUESTION, row.question), CLEAN.replace(QUESTION, row.corrupted_question))
        clean = corruption.token_roles(
            tokenizer, prompts[0], encode(tokenizer, prompts[0]), row.question, row.subject, row.object, row.corrupted_question
        )
        other = corruption.token_roles(
            tokenizer, prompts[1], encode(tokenizer, prompts[1]), row.corrupted_question, twin.subject, twin.object, row.question
        )
        for roles in (clean, other):
            assert roles.positions("subject") and roles.positions("object"), roles.prompt
        alignment = corruption.align(clean, other)
        aligned += alignment.by_role
        assert len(alignment.to_clean) == len(other) and alignment.to_clean[-1] == len(clean) - 1
    assert aligned > 0  # some twins do differ in length, and were aligned instead of skipped
