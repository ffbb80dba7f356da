"""`thorfleet tune`: find the llama-server flags that serve a stated workload best on one unit.

1. First stage: one `llama-bench` process measures prompt processing for every ubatch size and
   flash-attention setting; the fastest pairs go on.
2. Confirmation: each pair × slot count runs as a real server (a transient unit on a scratch port,
   the engine's hardening and flag check, the real engine left serving) under the bench client;
   candidates that would not fit next to the unit's engines, fail their flag check or do not load
   are recorded as infeasible. The best are measured again until two runs agree within 5 %.
3. The pick, a `host_vars` patch and a report. Nothing is applied: the next deploy does that.
"""

import logging
import time
from pathlib import PurePosixPath

from rich.progress import Progress

from thorfleet.bench import prompts
from thorfleet.bench.client import Endpoint, run_load
from thorfleet.bench.run import unit_context
from thorfleet.bench.stats import summarize
from thorfleet.core.fleet import FleetHost
from thorfleet.core.ssh import forward, ssh_client
from thorfleet.roles.engines.commands import engine_argv, model_of, served_name
from thorfleet.roles.engines.memory import gib, host_plan, llama_need
from thorfleet.roles.models.shapes import known
from thorfleet.tune import unit
from thorfleet.tune.search import Candidate, Workload, first_stage_rows, llama_bench_args, outcome, search

SCRATCH_PORT = 18090  # loopback only, for one candidate at a time


def candidate_argv(host: FleetHost, name: str, engine, tuned: dict) -> list[str]:
    """The engine's own command line with the tuned flags, on loopback and the scratch port."""
    trial = engine.model_copy(update={"bind": "127.0.0.1", "port": SCRATCH_PORT,
                                      "args": {**engine.args, **tuned}})
    return engine_argv(host.config, name, trial)[0]


def does_not_fit(host: FleetHost, name: str, engine, tuned: dict) -> str | None:
    """Why the candidate cannot run next to the unit's engines (the one tuned keeps serving), if so."""
    config = host.config
    model = model_of(config, engine)
    facts = known(model, config.model_store) if model else None
    if facts is None:
        return None
    trial = engine.model_copy(update={"args": {**engine.args, **tuned}})
    need = llama_need(name, engine.kind, trial.rendered_args(config), facts)
    serving = sum(n.total for n in host_plan(config, lambda entry: known(entry, config.model_store)))
    room = config.memory.for_engines
    if serving + need.total > room:
        return f"needs {gib(need.total)} GiB next to the {gib(serving)} GiB of the unit's engines; {gib(room)} GiB for engines"
    return None


def measure(endpoint: Endpoint, words: int, workload: Workload) -> dict:
    figures = {}
    for concurrency in workload.concurrency:
        run_load(endpoint, prompts.prompts(words, concurrency, 7_000 * concurrency), 8, concurrency)  # warm-up
        results, duration = run_load(endpoint, prompts.prompts(words, workload.requests, 900_000 + concurrency),
                                     workload.output_len, concurrency)
        figures[concurrency] = summarize(results, duration, concurrency)
    return figures


def tune(host: FleetHost, name: str, engine, workload: Workload, log) -> dict:
    started = time.monotonic()
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # a refused tunnel while a candidate loads is expected
    config = host.config
    key = engine.api_key.read() if engine.api_key else None
    client = ssh_client(host)
    try:
        before = unit_context(client, host)
        model_path = config.model_store.load_path(model_of(config, engine))
        program = candidate_argv(host, name, engine, {})[0]
        log(f"first stage: llama-bench, prompt processing for -ub {workload.ubatches} × -fa {workload.flash}")
        bench_rows = first_stage_rows(unit.llama_bench(
            client, config, name, engine, [str(PurePosixPath(program).with_name(engine.bench_program)), *llama_bench_args(workload, model_path)],
            timeout=engine.health_timeout))
        words = []
        with forward(client, "127.0.0.1", SCRATCH_PORT) as local_port, Progress(transient=True) as progress:
            base = f"http://127.0.0.1:{local_port}"
            endpoint = Endpoint(base, served_name(name, engine), key)
            task = progress.add_task("candidates", total=None)

            def measure_one(candidate: Candidate) -> None:
                progress.update(task, description=candidate.label)
                _measure_one(client, host, name, engine, candidate, base, endpoint, words, workload, log)

            found = search(workload, bench_rows, measure_one)
        after = unit_context(client, host)
    finally:
        unit.stop(client, name)
        client.close()
    return {"host": host.name, "engine": name, **outcome(workload, bench_rows, found),
            "unit_before": before, "unit_after": after, "unit_changed": before != after,
            "duration_s": round(time.monotonic() - started, 1)}


def _measure_one(client, host, name, engine, candidate: Candidate, base: str, endpoint: Endpoint, words: list,
                 workload: Workload, log) -> None:
    reason = does_not_fit(host, name, engine, candidate.args)
    if reason:
        candidate.infeasible = reason
        log(f"{candidate.label}: infeasible: {reason}")
        return
    try:
        unit.start(client, host.config, name, engine, candidate_argv(host, name, engine, candidate.args))
        candidate.load_s = round(unit.wait_healthy(client, name, base, engine.health_timeout), 1)
        record(candidate, measure(endpoint, calibrated(endpoint, words, workload), workload), log)
    except unit.Infeasible as err:
        candidate.infeasible = str(err)
        log(f"{candidate.label}: infeasible: {err}")
    finally:
        unit.stop(client, name)


def calibrated(endpoint: Endpoint, words: list, workload: Workload) -> int:
    """Words for a prompt of the workload's length, calibrated once on the first server that answers."""
    if not words:
        words.append(prompts.calibrate(endpoint, workload.input_len))
    return words[0]


def record(candidate: Candidate, figures: dict, log) -> None:
    top = figures[max(figures)]
    candidate.by_concurrency = figures
    candidate.runs.append(top)
    log(f"{candidate.label}: {top['output_throughput']:.1f} tok/s, mean TTFT {top['mean_ttft_ms']:.0f} ms"
        + (f", {top['failed']} failed" if top["failed"] else ""))
