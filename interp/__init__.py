"""Interpretability reports for models that pass fk-bench's gate: which layers, heads and positions carry a fact.

- :mod:`interp.model`: the one model object (the TransformerLens bridge over a loaded model);
- :mod:`interp.pairs`: the pairs studied (a true question the model gets right vs its corrupted twin), their prompts;
- :mod:`interp.answers`: the answer words as single tokens, log_odds and logit_diff of their logits;
- :mod:`interp.runner`: forward passes through the bridge's hooks (recorded, gradient, batched patched runs, layer sweeps);
- :mod:`interp.dla`: direct logit attribution (logit lens, per layer, per head);
- :mod:`interp.patching`: exact and attribution patching; a drop-in for ``transformer_lens.patching``'s grids;
- :mod:`interp.corruption`: twin and noise corruptions, token roles, alignment of twins by role;
- :mod:`interp.tracing` and :mod:`interp.knockout`: causal tracing grids and attention knockout;
- :mod:`interp.study`: DLA and patching of every pair, sharing one clean and one corrupted run per batch; tracing and knockout by token role;
- :mod:`interp.bootstrap`: bootstrap 95% intervals over pairs, and when an interval is wide;
- :mod:`interp.aggregate`: statistics over pairs (with their intervals) and the report's findings;
- :mod:`interp.evaluated`: the evaluated run a report reads (evaluated now, or ``--from-results``);
- :mod:`interp.figures` and ``interp/templates/report.html.j2``: the page;
- :mod:`interp.defaults`: every default and enumeration of the report;
- :mod:`interp.report`: ``fk-bench report``'s steps, from the gate (per relation) to report.html / report.json;
- :mod:`interp.compare` and ``interp/templates/compare.html.j2``: every model's reports on one page, and the docs' findings table.
"""
