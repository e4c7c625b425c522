"""The one exception type fk-bench raises for bad input: the CLI prints its message as a single line."""


class FkBenchError(Exception):
    """Bad input or environment, with a message that names what is wrong and where."""
