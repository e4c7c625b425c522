"""Attribution from one forward pass: the logit lens and direct logit attribution (per layer, per head)."""
