"""Reaching the Hugging Face Hub: one quick check instead of a library's retry loop when offline."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

from fk_bench.errors import FkBenchError


def hub_is_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub endpoint answers a TCP connect within ``timeout`` seconds (False when offline mode is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_hub(what: str) -> None:
    """Fail with one clear line when ``what`` needs the Hub and the Hub cannot be reached."""
    if not hub_is_reachable():
        raise FkBenchError(
            f"{what} is not a local path and not in the Hugging Face cache, and the Hub cannot be reached "
            "(offline, or HF_HUB_OFFLINE is set); pass a local directory or file instead"
        )
