"""On the GPU machine: `thorfleet tune`'s own search (thorfleet/tune/search.py: the llama-bench
first stage, the candidates, the repeats until stable, the pick) at seed 002's high load, with each
candidate started as a plain process instead of a unit's transient systemd unit (the machine has
neither systemd nor SSH), to be compared with device_sweep.py's exhaustive sweep in the same run.

    python3 benchmarks/serving/device_tune.py VOCAB_GGUF OUT_DIR    # from .device/fleet (run.sh)
"""

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from device_bench import model, wait_healthy  # noqa: E402

from thorfleet.bench.client import Endpoint  # noqa: E402
from thorfleet.fleet import load_fleet  # noqa: E402
from thorfleet.roles.engines.commands import engine_argv  # noqa: E402
from thorfleet.tune import report  # noqa: E402
from thorfleet.tune.run import calibrated, measure, record  # noqa: E402
from thorfleet.tune.search import Candidate, Workload, first_stage_rows, llama_bench_args, outcome, search  # noqa: E402


def main(vocab: str, out: str) -> None:
    started = time.monotonic()
    config = load_fleet(Path("inventory/serve.py")).hosts["@local"].config
    engine = config.engines["qwen3-8b"]
    rendered = engine_argv(config, "qwen3-8b", engine)[0]
    path = model(config, Path(vocab), Path(rendered[0]).parent)
    workload = Workload(slot_context=engine.slot_context)
    bench = subprocess.run([rendered[0].replace("llama-server", "llama-bench"), *llama_bench_args(workload, str(path))],
                           capture_output=True, text=True, timeout=600)
    rows = first_stage_rows(bench.stdout)
    print(f"== first stage in {time.monotonic() - started:.0f} s: {rows}", flush=True)
    base, words = "http://127.0.0.1:8000", []
    endpoint = Endpoint(base, "qwen3")

    def measure_one(candidate: Candidate) -> None:
        trial = engine.model_copy(update={"args": {**engine.args, **candidate.args}})
        argv = engine_argv(config, "qwen3-8b", trial)[0]
        with open(f"/tmp/tune-{len(candidate.runs)}.log", "w") as log:
            server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                candidate.load_s = round(wait_healthy(base, server), 1)
                record(candidate, measure(endpoint, calibrated(endpoint, words, workload), workload), print)
            except SystemExit as err:
                candidate.infeasible = str(err)
            finally:
                server.terminate()
                server.wait(60)

    found = search(workload, rows, measure_one)
    result = {"host": "device", "engine": "qwen3-8b", **outcome(workload, rows, found), "unit_before": None,
              "unit_after": None, "unit_changed": False, "duration_s": round(time.monotonic() - started, 1)}
    report.write(result, Path(out) / "tune")
    print(f"== tune picked {result['pick_label']} in {result['duration_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
