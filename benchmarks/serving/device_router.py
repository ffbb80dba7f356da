"""On the GPU machine (issue 31): a llama-router with two real-sized models, a Qwen3-8B-shaped Q5_K_M
and a Qwen3-Coder-30B-A3B-shaped Q5_K (random weights, benchmarks/serving/moe_model.py), started with
the command line and preset thorfleet renders for the `on-demand` engine of the serving fleet, against
a plain llama-server with the same model flags. Every row states `--cache-ram` (0: thorfleet's default).

    python3 benchmarks/serving/device_router.py VOCAB_GGUF OUT_DIR [models]   # from .device/fleet (run.sh router [models])

It measures, one server at a time: the router's cold load of each model (a first request's time to its
first token, the load included) per GB of file; the swap (with `models_max: 1`, a request for the other
model unloads one and loads the other); and at seed 002's high load (concurrency 8, 2048 in / 128 out)
the loaded model's output tok/s and TTFT through the router against the plain server, alternating
plain, router, plain, router so that drift shows.
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from device_bench import model as qwen3_8b_model  # noqa: E402
from device_bench import wait_healthy  # noqa: E402
from moe_model import QWEN3_CODER_30B_A3B, write_qwen3moe  # noqa: E402

from thorfleet.bench import prompts  # noqa: E402
from thorfleet.bench.client import Endpoint, run_load  # noqa: E402
from thorfleet.bench.stats import summarize  # noqa: E402
from thorfleet.fleet import load_fleet  # noqa: E402
from thorfleet.roles.engines.commands import engine_argv  # noqa: E402
from thorfleet.roles.engines.config import flag_args  # noqa: E402
from thorfleet.roles.engines.router import PRESET_ONLY, preset_ini  # noqa: E402

ROUTER, MODELS = "on-demand", ("qwen3", "qwen3-coder")
HIGH_LOAD = (8, 2048, 128, 48)  # seed 002's high load: concurrency, input, output, requests
ROUNDS = 2


def first_token_s(endpoint: Endpoint) -> float:
    """Seconds to the first token of one short request (a model not loaded: its load included)."""
    results, _ = run_load(endpoint, ["Say hi."], 4, 1)
    if not results[0].ok:
        raise SystemExit(f"{endpoint.model}: {results[0].error}")
    return results[0].ttft


def high_load(endpoint: Endpoint, words: int, label: str) -> dict:
    concurrency, _, output_len, requests = HIGH_LOAD
    run_load(endpoint, prompts.prompts(words, concurrency, 7_000), 16, concurrency)  # warm-up
    results, duration = run_load(endpoint, prompts.prompts(words, requests, 900_000), output_len, concurrency)
    figures = summarize(results, duration, concurrency)
    print(f"{label:40s} c=8 2048/128  {figures['output_throughput']:7.1f} tok/s  TTFT {figures['mean_ttft_ms']:6.0f} ms  "
          f"failed {figures['failed']}", flush=True)
    return {"label": label, "figures": figures}


def started(argv: list[str], log: Path) -> subprocess.Popen:
    server = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    print(f"== {log.stem} healthy after {wait_healthy('http://127.0.0.1:' + argv[argv.index('--port') + 1], server):.1f} s",
          flush=True)
    return server


def stopped(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(120)


def main(vocab: str, out: str, only: str = "") -> None:
    out_dir = Path(out)
    config = load_fleet(Path("inventory/serve.py")).hosts["@local"].config
    router = config.engines[ROUTER]
    paths = {name: Path(config.model_store.load_path(config.models[router.models[name].model])) for name in MODELS}
    build_bin = Path(engine_argv(config, ROUTER, router)[0][0]).parent
    qwen3_8b_model(config, Path(vocab), build_bin)
    if not paths["qwen3-coder"].exists():
        paths["qwen3-coder"].parent.mkdir(parents=True, exist_ok=True)
        start = time.time()
        write_qwen3moe(Path(vocab), paths["qwen3-coder"], QWEN3_CODER_30B_A3B, "Qwen3-Coder-30B-A3B-shaped (random weights)")
        print(f"== MoE model written in {time.time() - start:.0f} s", flush=True)
    sizes = {name: path.stat().st_size / 1e9 for name, path in paths.items()}
    if only == "models":  # a first call writes them, so that the measurements fit in a second one
        return
    preset_path = out_dir / "on-demand.models.ini"
    preset_path.write_text(preset_ini(router.presets(config)))
    argv = engine_argv(config, ROUTER, router)[0]
    argv[argv.index("--models-preset") + 1] = str(preset_path)
    print("== router:", " ".join(argv[1:]), "\n" + preset_path.read_text(), flush=True)
    # The plain server: the same binary and the same model section as flags, on the router's port.
    section = {k: v for k, v in router.presets(config)["qwen3"].items() if k not in PRESET_ONLY | {"sleep-idle-seconds"}}
    plain = [argv[0], "--host", "127.0.0.1", "--port", argv[argv.index("--port") + 1], "--alias", "qwen3", "--metrics",
             *flag_args(section)]
    base = f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"
    endpoints = {name: Endpoint(base, name) for name in MODELS}
    record: dict = {"sizes_gb": sizes, "router_argv": argv[1:], "preset": preset_path.read_text(), "plain_argv": plain[1:],
                    "cold": [], "swaps": [], "high_load": []}
    words = 0
    for round_ in range(ROUNDS):
        server = started(plain, out_dir / f"plain-{round_}.log")
        try:
            words = words or prompts.calibrate(endpoints["qwen3"], HIGH_LOAD[1])
            record["high_load"].append(high_load(endpoints["qwen3"], words, f"plain llama-server, round {round_ + 1}"))
        finally:
            stopped(server)
        server = started(argv, out_dir / f"router-{round_}.log")
        try:
            # A fresh router: the first model asked for loads cold (its file in the page cache, as after a
            # download); round 1 then swaps back and forth under models_max 1 (one unloaded, the other loaded).
            order = ("qwen3-coder", "qwen3", "qwen3-coder", "qwen3") if round_ == 0 else ("qwen3",)
            for index, name in enumerate(order):
                seconds = first_token_s(endpoints[name])
                kind = "cold" if index == 0 else "swaps"
                record[kind].append({"model": name, "s": seconds, "s_per_gb": seconds / sizes[name]})
                print(f"== {'cold load of' if index == 0 else 'swap to'} {name} ({sizes[name]:.1f} GB): "
                      f"first token after {seconds:.2f} s", flush=True)
            record["high_load"].append(high_load(endpoints["qwen3"], words, f"router (models_max 1), round {round_ + 1}"))
        finally:
            stopped(server)
    for kind in ("plain", "router"):
        runs = [r["figures"] for r in record["high_load"] if r["label"].startswith(kind)]
        print(f"== {kind}: median output {statistics.median(f['output_throughput'] for f in runs):.1f} tok/s, "
              f"median mean TTFT {statistics.median(f['mean_ttft_ms'] for f in runs):.0f} ms", flush=True)
    (out_dir / "router.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
