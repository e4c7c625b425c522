"""What every analysis shares: the model bridge, forward passes through its hooks, the answer tokens, the studied
pairs and their corruptions, the evaluated run a report reads, and bootstrap intervals."""
