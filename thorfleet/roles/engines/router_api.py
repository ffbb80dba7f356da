"""What a running llama-router says of its models, and how it is asked to unload one (its own HTTP API:
`GET /models`, `POST /models/unload`; the pinned tree's tools/server/README.md, "Using multiple models").
Used by `thorfleet endpoints` (each model's state) and `thorfleet bench` (cold starts)."""

import json
import time
import urllib.request

from thorfleet.core.http import bearer, get, send


def states(base_url: str, key: str | None) -> dict[str, str]:
    """Each model's state as the router lists it (loaded, loading, sleeping, unloaded)."""
    status, body = get(f"{base_url}/models", bearer(key))
    if status != 200:
        raise RuntimeError(f"the router's model list: HTTP {status} {body[:200]}")
    return {model["id"]: model["status"]["value"] for model in json.loads(body)["data"]}


def unloaded(base_url: str, key: str | None, model: str, timeout: float = 120) -> None:
    """The model unloaded (asked for when it runs), waited for."""
    if states(base_url, key).get(model) != "unloaded":
        body = json.dumps({"model": model}).encode()
        send(urllib.request.Request(f"{base_url}/models/unload", body, {**bearer(key), "Content-Type": "application/json"}))
    deadline = time.monotonic() + timeout
    while states(base_url, key).get(model) != "unloaded":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{model} was not unloaded within {timeout:.0f} s")
        time.sleep(0.5)
