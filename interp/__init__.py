"""Interpretability reports for models that pass fk-bench's gate: which layers, heads and positions carry a fact.

One sub-package per concept (the folder tree is the architecture):

- :mod:`interp.core`: what every analysis shares. ``model`` (the TransformerLens bridge over a loaded model),
  ``runner`` (recorded, gradient and batched edited forward passes), ``edits`` (the site table; cells and
  knockouts a row changes), ``sweep`` (layer sweeps, rows joining at their first edited layer),
  ``answer_tokens`` (answer words as single tokens, log_odds and logit_diff), ``studied_pairs`` (the pairs
  studied and their prompts), ``corruption`` (twin and noise corruptions, token roles, alignment),
  ``evaluated`` (the evaluated run a report reads, opened with its model), ``bootstrap`` (intervals over pairs),
  ``versioned_json`` (the defensive reader of versioned JSON files);
- :mod:`interp.attribution`: ``dla``, the logit lens and direct logit attribution (per layer, per head);
- :mod:`interp.patching`: ``activation_patching`` (exact and attribution patching), ``tracing`` (causal
  tracing), ``knockout`` (attention knockout);
- :mod:`interp.study`: a report's steps; ``pair_studies`` (every analysis over the pairs, sharing runs),
  ``aggregate`` and ``causal_summaries`` (statistics with intervals, the findings), ``sections`` (one section),
  ``report_settings`` (settings, gate), ``report_build`` (gate -> report.json), ``report_file`` (report.json's
  typed schema and its one reader);
- :mod:`interp.pages`: ``figures``, ``causal_figures``, ``report_page`` and ``templates/report.html.j2`` (the
  page), ``report_sources`` (the reports a comparison reads, bad ones skipped), ``compare`` and
  ``templates/compare.html.j2`` (every model's reports on one page), ``findings_table`` (the docs' table,
  merged), ``compare_command`` (compare-reports' steps);
- :mod:`interp.probes`: linear truth probes (``fk-bench probe``): ``inputs`` and ``activations`` (the run's
  prompts, the residual stream gathered once), ``fitting`` (mass-mean and logistic probes, fact-grouped
  folds, the layer chosen inside them), ``transfer``, ``gap``, ``steering`` (the causal check),
  ``probe_schema`` (probe.json), ``probe_page`` and ``gap_column`` (the page, the report section, the
  compare-reports column), ``run`` (the steps);
- :mod:`interp.defaults`: every default and enumeration of the report (``interp.probes.probe_defaults``: the probes').
"""
