"""The causal check: does adding the truth direction change what the model says?

At the chosen layer and the last position, each steered question gets the mass-mean direction
``mean(true) - mean(false)`` (its norm is the class-mean distance) *subtracted* when the question is
true and *added* when it is false, so a model that reads this direction should turn its answer
around. The effect is measured on the output's log(p_True / p_False) over the run's answer groups
(the words that are one token after the prompt, :func:`interp.core.answer_tokens.single_token_answers`):

- ``flipped_share``: of the steered questions whose unsteered answer lies on the side the push leaves
  (a true question answered "yes", a false one answered "no"), the share whose answer crosses 0;
- ``mean_shift``: the mean change of the log-odds in the direction of the push;
- the same two for a random direction of the same norm (seeded): the negative control.

Layer ``L < n_layers`` is steered at ``blocks.L.hook_resid_pre``; layer ``n_layers`` (the final residual) just before the final norm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformer_lens.model_bridge.exceptions import StopAtLayerException

from interp.core.answer_tokens import AnswerTokens
from interp.core.model import InterpModel
from interp.core.runner import answer_logits_from_final
from interp.probes.activations import BatchHooks, _batches


@dataclass
class SteeringResult:
    layer: int
    n_questions: int
    scale: float  # the direction's multiple added (1: the class-mean distance)
    norm: float
    baseline: np.ndarray  # log-odds without steering
    along: np.ndarray  # log-odds with the direction
    random: np.ndarray  # log-odds with the random direction
    push: np.ndarray  # +1 (pushed towards "true") or -1, per question

    def effect(self, steered: np.ndarray) -> tuple[float | None, float, int]:
        """(flipped share, mean shift along the push, questions that could flip)."""
        eligible = np.sign(self.baseline) == -self.push
        flipped = eligible & (np.sign(steered) == self.push)
        share = float(flipped.sum() / eligible.sum()) if eligible.any() else None
        return share, float(np.mean(self.push * (steered - self.baseline))), int(eligible.sum())

    def to_json(self) -> dict[str, Any]:
        along, random = self.effect(self.along), self.effect(self.random)
        return {
            "layer": self.layer,
            "position": "last",
            "n_questions": self.n_questions,
            "scale": self.scale,
            "direction_norm": self.norm,
            "n_eligible": along[2],
            "flipped_share": along[0],
            "random_flipped_share": random[0],
            "mean_shift": along[1],
            "random_mean_shift": random[1],
        }


@torch.no_grad()
def steered_log_odds(
    model: InterpModel,
    tokens: Sequence[Sequence[int]],
    layer: int,
    deltas: Sequence[np.ndarray],
    answers: AnswerTokens,
    batch_size: int = 32,
    batch_hooks: BatchHooks | None = None,
) -> list[np.ndarray]:
    """log(p_True / p_False) of every prompt once per entry of ``deltas`` (each ``[question, d_model]``, added
    to the residual at ``layer``, last position; zeros for the unsteered run). ``batch_hooks`` as in
    :func:`interp.probes.activations.gather` (each batch runs its questions once per delta, in that order)."""
    out = [np.empty(len(tokens)) for _ in deltas]
    answer_ids = answers.id_tensor(model.device)

    def stop(x: torch.Tensor, hook: Any) -> None:
        raise StopAtLayerException(x[:, -1])

    for batch in _batches(tokens, [0] * len(tokens), batch_size):
        ids = model.tensor([list(tokens[i]) for i in batch])
        added = torch.tensor(np.concatenate([delta[batch] for delta in deltas]), dtype=model.dtype, device=model.device)

        def steer(x: torch.Tensor, hook: Any, added: torch.Tensor = added) -> torch.Tensor:
            x = x.clone()
            x[:, -1] += added
            return x

        extra = batch_hooks([i for _ in deltas for i in batch]) if batch_hooks is not None else ()
        hooks = [*extra] + ([(f"blocks.{layer}.hook_resid_pre", steer)] if layer < model.n_layers else [])
        final = model.bridge.run_with_hooks(ids.repeat(len(deltas), 1), fwd_hooks=[*hooks, ("ln_final.hook_in", stop)])
        if layer >= model.n_layers:
            final = final + added
        log_odds = answers.log_odds(answer_logits_from_final(model, final, answer_ids).double()).cpu().numpy()
        for k in range(len(deltas)):
            out[k][batch] = log_odds[k * len(batch) : (k + 1) * len(batch)]
    return out


def steer(
    model: InterpModel,
    tokens: Sequence[Sequence[int]],
    labels: np.ndarray,
    layer: int,
    direction: np.ndarray,
    answers: AnswerTokens,
    seed: int,
    batch_hooks: BatchHooks | None = None,
    scale: float = 1.0,
) -> SteeringResult:
    """Steer every prompt of ``tokens`` against its label along ``scale`` x ``direction`` and along a random
    direction of the same norm."""
    direction = scale * direction
    norm = float(np.linalg.norm(direction))
    random = np.random.default_rng(seed).normal(size=direction.shape)
    random *= norm / np.linalg.norm(random)
    push = np.where(labels, -1.0, 1.0)
    zeros = np.zeros((len(tokens), len(direction)))
    baseline, along, other = steered_log_odds(
        model, tokens, layer, [zeros, push[:, None] * direction[None], push[:, None] * random[None]], answers, batch_hooks=batch_hooks
    )
    return SteeringResult(layer, len(tokens), scale, norm, baseline, along, other, push)
