"""Benchmark every selected engine of every selected host, one engine at a time per unit."""

import json
import shlex
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from urllib.request import Request, urlopen

import paramiko
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from thorfleet.bench import prompts, router, whisper
from thorfleet.bench.client import Endpoint, run_load
from thorfleet.bench.stats import summarize
from thorfleet.core.fleet import CHAT, ROUTER, TRANSCRIPTION, FleetHost
from thorfleet.core.paths import unit_name
from thorfleet.core.ssh import Unreachable, forward, run, ssh_client
from thorfleet.fleet import Fleet
from thorfleet.roles.engines.commands import model_of, served_name, state_record
from thorfleet.roles.engines.deploy import health_url
from thorfleet.roles.models.fetch_model import STAMPS
from thorfleet.roles.power.facts import JetsonClocks, NvpmodelMode


@dataclass(frozen=True)
class Shape:
    concurrency: int
    prompts: int
    input_len: int
    output_len: int


# Seed 002: `vllm bench serve --random-input-len 2048 --random-output-len 128`, low load (1, 10 prompts), high load (8, 100).
SEED_PROMPTS = {1: 10, 8: 100}


def shapes(concurrency: list[int], input_len: int, output_len: int, count: int | None) -> list[Shape]:
    return [Shape(c, count or SEED_PROMPTS.get(c, max(10, 12 * c)), input_len, output_len) for c in concurrency]


def unit_context(client, host: FleetHost) -> dict:
    mode = NvpmodelMode().process(run(client, "nvpmodel -q 2>/dev/null").splitlines())
    clocks = JetsonClocks().process(run(client, "sudo -n jetson_clocks --show 2>/dev/null").splitlines())
    return {"nvpmodel": mode, "clocks_locked": clocks["locked"] if clocks else None,
            "clocks_wanted": host.config.power.clocks if host.applies("power") else None}


def engine_context(client, host: FleetHost, name: str, engine) -> dict:
    unit = f"{unit_name(name)}.service"
    exec_start = run(client, f"systemctl show -p ExecStart --value {shlex.quote(unit)}")
    argv = exec_start.split("argv[]=", 1)[1].split(" ;", 1)[0] if "argv[]=" in exec_start else ""
    state = run(client, f"sudo -n cat {shlex.quote(state_record(name))}")
    model = model_of(host.config, engine)
    context = {"kind": engine.kind, "served_model": served_name(name, engine), "command_line": argv.strip(),
               "running": json.loads(state) if state.strip().startswith("{") else None}
    if model:
        dest = host.config.model_store.dest(model)
        stamps = run(client, f"cat {shlex.quote(dest + '/' + STAMPS)}")
        verified = json.loads(stamps) if stamps.strip().startswith("{") else {}
        context["model_file"] = host.config.model_store.load_path(model)
        context["model_files"] = {path: entry.get("sha256") for path, entry in verified.get("files", verified).items()
                                  if isinstance(entry, dict)}
    return context


def healthy(base_url: str, engine, key: str | None) -> bool:
    request = Request(base_url + engine.health_path, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urlopen(request, timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def status_of(figures: dict, unit: dict) -> list[str]:
    """What makes a run not a clean figure: it is reported with the figure, never hidden."""
    problems = []
    if figures.get("failed"):
        problems.append(f"{figures['failed']} failed requests")
    if unit["clocks_wanted"] == "locked" and unit["clocks_locked"] is False:
        problems.append("clocks not locked though the config locks them")
    return problems


def bench_engine(base_url, host, name, model, key, selected_shapes, progress) -> list[dict]:
    endpoint = Endpoint(base_url, model, key)
    records = []
    words = None
    for index, shape in enumerate(selected_shapes):
        task = progress.add_task(f"{host.name} {name} c={shape.concurrency}", total=shape.prompts)
        if words is None or shape.input_len != selected_shapes[index - 1].input_len:
            words = prompts.calibrate(endpoint, shape.input_len)
        # Warm-up, not counted: the first requests pay for loading kernels and allocating buffers.
        run_load(endpoint, prompts.prompts(words, min(shape.concurrency, 2), 10_000_000 + index), min(shape.output_len, 16),
                 min(shape.concurrency, 2))
        seed = int(time.time() * 1000) % 1_000_000 * 1000  # new prompts each run: no cache hit from a previous one
        results, duration = run_load(endpoint, prompts.prompts(words, shape.prompts, seed), shape.output_len, shape.concurrency,
                                     lambda: progress.advance(task))
        figures = summarize(results, duration, shape.concurrency)
        timings = [r.server_timings for r in results if r.ok and r.server_timings]
        if timings:
            figures["server_timings"] = {k: sum(t.get(k, 0) for t in timings) / len(timings)
                                         for k in ("prompt_ms", "predicted_ms", "predicted_n", "predicted_per_second")}
        records.append({"shape": shape.__dict__, "figures": figures, "model": model})
    return records


def bench_one(host: FleetHost, name: str, engine, selected_shapes, whisper_seconds: float, progress) -> list[dict]:
    """One engine: its own SSH connection (context, tunnel), health first, then every shape."""
    client = ssh_client(host)
    try:
        unit = unit_context(client, host)
        key = engine.api_key.read() if engine.api_key else None
        base = {"host": host.name, "engine": name, "unit": unit, "context": engine_context(client, host, name, engine)}
        address = health_url(engine).split("//", 1)[1].split("/", 1)[0]
        remote_host, remote_port = address.rsplit(":", 1)
        with forward(client, remote_host.strip("[]"), int(remote_port)) as local_port:
            local = f"http://127.0.0.1:{local_port}"
            if not healthy(local, engine, key):
                return [{**base, "status": ["engine not healthy: nothing measured"], "figures": None}]
            if engine.serves == TRANSCRIPTION:
                measured = whisper.bench(local, whisper_seconds, progress, f"{host.name} {name}")
            else:
                measured = []
                for model, _ in engine.served(name):  # a router's each: cold first, its load included, then warm
                    if engine.kind == ROUTER:
                        measured.append(router.cold_start(local, key, model, selected_shapes[0].input_len))
                    measured += bench_engine(local, host, name, model, key, selected_shapes, progress)
            records = []
            for record in measured:
                context = {**base["context"], "served_model": record.pop("model", base["context"]["served_model"])}
                records.append({**base, **record, "context": context, "status": status_of(record["figures"], unit)})
            return records
    finally:
        client.close()


def bench_fleet(fleet: Fleet, hosts: list[str], engines: list[str], selected_shapes: list[Shape],
                whisper_seconds: float, console) -> dict:
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    records = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        for host_name in hosts:
            host = fleet.hosts[host_name]
            chosen = {n: e for n, e in host.config.engines.items()
                      if e.serves in (CHAT, TRANSCRIPTION) and (not engines or n in engines)}
            dead = ""  # why the unit cannot be reached: its other engines are not tried again
            for name, engine in chosen.items():
                why = dead
                if not dead:
                    try:
                        records += bench_one(host, name, engine, selected_shapes, whisper_seconds, progress)
                        continue
                    except Unreachable as err:
                        why = dead = str(err)
                    except (paramiko.SSHException, OSError) as err:
                        why = f"the SSH connection dropped: {type(err).__name__}: {err}"
                records.append({"host": host_name, "engine": name, "unit": {}, "figures": None,
                                "context": {"kind": engine.kind, "served_model": served_name(name, engine)}, "status": [why]})
    return {"thorfleet": version("thorfleet"), "started": started,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "inventory": str(fleet.inventory), "records": records}
