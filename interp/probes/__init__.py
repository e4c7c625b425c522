"""Knows vs says: linear truth probes on the residual stream of an evaluated run (``fk-bench probe``).

- :mod:`interp.probes.probe_defaults`: every default and file name of the probe command;
- :mod:`interp.probes.inputs`: the run's complete pairs, their prompts and token ids, the object's last token;
- :mod:`interp.probes.activations`: the residual stream at two positions and every layer, one batched pass, float16 on disk;
- :mod:`interp.probes.fitting`: mass-mean and logistic probes per layer, pair-grouped folds, the shuffled control, layer choice;
- :mod:`interp.probes.transfer`: domain x domain transfer and leave-one-domain-out;
- :mod:`interp.probes.gap`: probe minus output paired accuracy with a paired bootstrap interval;
- :mod:`interp.probes.steering`: adding the mass-mean direction at the chosen layer, against a random one;
- :mod:`interp.probes.probe_schema`: probe.json (pydantic, versioned, one reader);
- :mod:`interp.probes.probe_page`: the HTML page and the report section; :mod:`interp.probes.gap_column`: the compare column;
- :mod:`interp.probes.run`: the steps, from the run folder to probe.json and probe.html.
"""
