"""Interpretability reports for models that pass fk-bench's gate: which layers, heads and positions carry a fact.

One sub-package per concept (the folder tree is the architecture):

- :mod:`interp.core`: what every analysis shares. ``model`` (the TransformerLens bridge over a loaded model),
  ``runner`` (recorded, gradient and batched edited forward passes), ``edits`` (the site table; cells and
  knockouts a row changes), ``sweep`` (layer sweeps, rows joining at their first edited layer),
  ``answer_tokens`` (answer words as single tokens, log_odds and logit_diff), ``studied_pairs`` (the pairs
  studied and their prompts), ``corruption`` (twin and noise corruptions, token roles, alignment),
  ``evaluated`` (the evaluated run a report reads), ``bootstrap`` (intervals over pairs);
- :mod:`interp.attribution`: ``dla``, the logit lens and direct logit attribution (per layer, per head);
- :mod:`interp.patching`: ``activation_patching`` (exact and attribution patching), ``tracing`` (causal
  tracing), ``knockout`` (attention knockout);
- :mod:`interp.study`: a report's steps; ``pair_studies`` (every analysis over the pairs, sharing runs),
  ``aggregate`` (statistics with intervals, the findings), ``report_build`` (gate -> report.json);
- :mod:`interp.pages`: ``figures`` and ``templates/report.html.j2`` (the page), ``compare`` and
  ``templates/compare.html.j2`` (every model's reports on one page, the docs' findings table);
- :mod:`interp.defaults`: every default and enumeration of the report.

``interp.probes`` (linear probes) is kept for its own sub-package.
"""
