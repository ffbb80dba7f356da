"""The one way thorfleet waits for something (a unit booting, an engine answering, a drain, a scrape)."""

import time
from collections.abc import Callable


def wait_until(ready: Callable[[], bool], timeout: float, interval: float = 0.5) -> float | None:
    """Ask `ready()` every `interval` seconds until it holds: the seconds it took, or None when `timeout`
    passed first. `ready` raises to stop waiting early (the thing waited for has failed)."""
    start = time.monotonic()
    while not ready():
        if time.monotonic() - start >= timeout:
            return None
        time.sleep(interval)
    return time.monotonic() - start
