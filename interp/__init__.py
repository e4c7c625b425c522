"""Interpretability reports for models that pass fk-bench's gate: which layers, heads and positions carry a fact.

- :mod:`interp.model`: the one model object (the TransformerLens bridge over a loaded model);
- :mod:`interp.pairs`: the pairs studied (a true question the model gets right vs its corrupted twin), their prompts;
- :mod:`interp.answers`: the answer words as single tokens, log_odds and logit_diff of their logits;
- :mod:`interp.runner`: forward passes through the bridge's hooks (recorded, gradient, batched patched runs, layer sweeps);
- :mod:`interp.dla`: direct logit attribution (logit lens, per layer, per head);
- :mod:`interp.patching`: exact and attribution patching; a drop-in for ``transformer_lens.patching``'s grids;
- :mod:`interp.study`: DLA and patching of every pair, sharing one clean and one corrupted run per batch;
- :mod:`interp.aggregate`: statistics over pairs and the report's findings;
- :mod:`interp.figures` and ``interp/templates/report.html.j2``: the page;
- :mod:`interp.report`: ``fk-bench report``'s steps, from the gate to report.html / report.json.
"""
