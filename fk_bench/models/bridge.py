"""The TransformerLens 4 bridge over a loaded model (for the interp toolkit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fk_bench.models.loading import LoadedModel

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge


def load_bridge(loaded: LoadedModel) -> "TransformerBridge":
    """The TransformerLens 4 bridge over the same weights, in compatibility mode and eval mode.

    Compatibility mode processes the weights in place (folds the final norm's gain into the
    unembedding, centres it): ``loaded.model``'s log-probs stay the same, its raw logits shift by a
    constant per position. Run the evaluator first, or on a separate copy, when raw logits matter.
    """
    from transformer_lens.model_bridge import TransformerBridge

    bridge = TransformerBridge.boot_transformers(
        str(loaded.path), hf_model=loaded.model, tokenizer=loaded.tokenizer, device=loaded.device, dtype=loaded.dtype
    )
    bridge.enable_compatibility_mode()
    bridge.eval()
    return bridge
