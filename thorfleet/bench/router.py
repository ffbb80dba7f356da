"""A llama-router's models in `thorfleet bench`: before a model's warm shapes, its cold start is measured:
the model unloaded through the router's own API (`POST /models/unload`), then one request, whose time to
first token includes the load (docs/bench.md, "Routers")."""

import time

from thorfleet.bench import prompts
from thorfleet.bench.client import Endpoint, run_load
from thorfleet.bench.stats import summarize
from thorfleet.roles.engines.router_api import unloaded

COLD_OUTPUT = 16  # tokens of the cold request: its figure is the time to the first one


def cold_start(base_url: str, key: str | None, model: str, input_len: int) -> dict:
    """One request to the model just unloaded: a record whose shape says `cold`."""
    endpoint = Endpoint(base_url, model, key)
    words = prompts.calibrate(endpoint, input_len)  # loads it: the cold request is measured after unloading again
    unloaded(base_url, key, model)
    start = time.perf_counter()
    results, duration = run_load(endpoint, prompts.prompts(words, 1, int(start * 1000) % 1_000_000), COLD_OUTPUT, 1)
    shape = {"concurrency": 1, "prompts": 1, "input_len": input_len, "output_len": COLD_OUTPUT, "cold": True}
    return {"shape": shape, "figures": summarize(results, duration, 1), "model": model}
