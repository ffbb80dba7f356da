"""A llama-router's models in `thorfleet bench`: before a model's warm shapes, its cold start is measured:
the model unloaded through the router's own API (`POST /models/unload`), then one request, whose time to
first token includes the load (docs/bench.md, "Routers")."""

import json
import time
import urllib.request

from thorfleet.bench import prompts
from thorfleet.bench.client import Endpoint, run_load
from thorfleet.bench.stats import summarize
from thorfleet.core.http import bearer, get, send

COLD_OUTPUT = 16  # tokens of the cold request: its figure is the time to the first one


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


def cold_start(base_url: str, key: str | None, model: str, input_len: int) -> dict:
    """One request to the model just unloaded: a record whose shape says `cold`."""
    endpoint = Endpoint(base_url, model, key)
    words = prompts.calibrate(endpoint, input_len)  # loads it: the cold request is measured after unloading again
    unloaded(base_url, key, model)
    start = time.perf_counter()
    results, duration = run_load(endpoint, prompts.prompts(words, 1, int(start * 1000) % 1_000_000), COLD_OUTPUT, 1)
    shape = {"concurrency": 1, "prompts": 1, "input_len": input_len, "output_len": COLD_OUTPUT, "cold": True}
    return {"shape": shape, "figures": summarize(results, duration, 1), "model": model}
