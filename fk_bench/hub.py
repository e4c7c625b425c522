"""Reaching the Hugging Face Hub: one quick check instead of a library's retry loop when offline."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from fk_bench.errors import FkBenchError


def offline_mode() -> bool:
    """Whether the user asked the Hugging Face libraries to work from their caches only: huggingface_hub's
    own answer (``HF_HUB_OFFLINE`` and every spelling of true it accepts, read when it was imported)."""
    import huggingface_hub

    return bool(huggingface_hub.is_offline_mode())


def hub_is_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub endpoint answers a TCP connect within ``timeout`` seconds (False in offline mode)."""
    from huggingface_hub import constants

    if offline_mode():
        return False
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_hub(what: str, not_local: str = "a local path", instead: str = "a local directory or file") -> None:
    """Fail with one clear line when ``what`` needs the Hub and the Hub cannot be reached.

    The line reads "<what> is not <not_local>, and the Hub cannot be reached ...; pass <instead>".
    """
    if not hub_is_reachable():
        raise FkBenchError(
            f"{what} is not {not_local}, and the Hugging Face Hub cannot be reached (offline, or HF_HUB_OFFLINE "
            f"is set); pass {instead} (with HF_HUB_OFFLINE=1 a copy in the Hugging Face cache is used)"
        )
