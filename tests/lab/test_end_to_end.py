"""The project's main proof: a fresh lab converged from scratch to serving, and kept that way."""

import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from thorfleet.lab import faults, lab

from .helpers import ROOT, converge, project_with, ssh, thorfleet

pytestmark = pytest.mark.lab


def verify(inventory, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from thorfleet.commands import main; main()", "verify", str(inventory), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def main_pid(unit, service: str) -> str:
    return ssh(unit, f"systemctl show -p MainPID --value {service}").stdout.strip()


def wait_healthy(unit, port: int, timeout: int = 120) -> None:
    deadline = time.monotonic() + timeout
    while ssh(unit, f"curl -fsS -o /dev/null http://127.0.0.1:{port}/health").returncode != 0:
        assert time.monotonic() < deadline, f"{unit.name}:{port} not healthy {timeout} s after boot"
        time.sleep(2)


# Remote shell commands of a no-op converge of the lab (measured 2026-12-04 with tests/lab/helpers.converge,
# docs/lab.md): the deploy is held to them.
NO_OP_COMMANDS = {"sim-01": 35, "all": 104}


@pytest.fixture(scope="module")
def fresh_lab(lab_units):
    """Units with nothing on them (the lab taken down and brought up again; caches stay), converged
    from scratch with the sim inventory, as `pyinfra inventory/sim.py deploy.py` does. Fresh units
    again afterwards, as the other lab tests expect them."""
    lab.down(log=lambda text: None)
    units = lab.up(3, log=lambda text: None)
    first = converge("inventory/sim.py")
    assert first.returncode == 0, first.output[-5000:]
    # model_store.fetch: auto (the default): the lab's GGUF, which all three units serve, crossed the
    # uplink once, into the controller's cache, and reached the three in one multicast session.
    assert "sent once to 3 units" in first.output, first.output[-5000:]
    yield units
    lab.down(log=lambda text: None)
    lab.up(3, log=lambda text: None)


def test_fresh_units_to_serving_then_no_change_then_verified_then_after_a_reboot(fresh_lab):
    second = converge("inventory/sim.py")
    assert second.returncode == 0 and second.changed() == [], second.changed()
    one = converge("inventory/sim.py", "--limit", "sim-01")
    assert one.returncode == 0 and one.changed() == [], one.changed()
    # What a no-op converge sends to the units: more means a fact read twice or per file (docs/lab.md).
    assert one.counts["commands"] <= NO_OP_COMMANDS["sim-01"] and second.counts["commands"] <= NO_OP_COMMANDS["all"], \
        (one.counts, second.counts)
    checked = verify("inventory/sim.py")
    assert checked.returncode == 0, checked.stdout[-5000:]
    assert checked.stdout.count(" ok ") == 3 and "FAILED" not in checked.stdout
    sim01 = fresh_lab[0]
    faults.reboot(sim01)
    wait_healthy(sim01, 8000)
    wait_healthy(sim01, 8080)
    time.sleep(6)  # the clocks timer fires 5 s after boot (group_vars/sim.yml)
    again = verify("inventory/sim.py", "--limit", "sim-01")
    assert again.returncode == 0, again.stdout[-5000:]


def test_plan_finds_nothing_on_the_converged_fleet_and_names_a_change_without_making_it(fresh_lab, tmp_path):
    """`thorfleet plan` reads the facts a deploy reads: nothing to do on the converged lab (exit 0); a
    changed engine flag is the engine's operation on that unit alone (exit 2), and the unit is untouched."""
    same = thorfleet("plan", "inventory/sim.py", cwd=ROOT)
    assert same.returncode == 0 and "0 of 3 unit(s) would change" in same.stdout, same.stdout + same.stderr
    sim01 = fresh_lab[0]
    llama = main_pid(sim01, "thorfleet-qwen3-8b")
    changed = project_with(tmp_path, {"sim-01": {"engines": {"qwen3-8b": {"args": {"threads": 1}}}}})
    planned = thorfleet("plan", str(changed), cwd=ROOT)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "1 of 3 unit(s) would change: sim-01" in planned.stdout and "Engine qwen3-8b" in planned.stdout, planned.stdout
    diff = planned.stdout.split("sim-01: /etc/systemd/system/thorfleet-qwen3-8b.service", 1)[1]
    assert re.search(r"^\+\s+--threads 1$", diff, re.M), planned.stdout
    assert "restarts qwen3-8b: its unit file" in planned.stdout  # the field of its fingerprint that forces it
    assert "Revision recorded" in planned.stdout  # the deploy would record the unit's new configuration
    assert main_pid(sim01, "thorfleet-qwen3-8b") == llama
    from thorfleet.fleet import load_fleet
    from thorfleet.plan import plan

    said = plan(load_fleet(changed), ["sim-01"])["sim-01"].changes
    applied = converge(changed, "--limit", "sim-01")
    assert applied.returncode == 0 and sorted(applied.changed()) == sorted(said), (applied.changed(), said)
    assert converge("inventory/sim.py", "--limit", "sim-01").returncode == 0  # back as configured
    assert thorfleet("plan", "inventory/sim.py", "--limit", "sim-01", cwd=ROOT).returncode == 0


def test_bench_measures_every_engine_of_the_fleet_and_compare_catches_a_regression(fresh_lab, tmp_path):
    """`thorfleet bench` on the converged lab: every LLM engine (llama-server on the CPU model, the
    container stand-ins) and whisper-server, with small shapes (the seed's 2048/128 take minutes on CPU)."""
    shape = ("--concurrency", "1,2", "--input-len", "64", "--output-len", "16", "--prompts", "4", "--audio-seconds", "2")
    runs = []
    for name in ("first", "second"):
        done = thorfleet("bench", "inventory/sim.py", *shape, "--out", str(tmp_path / name), cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        runs.append(json.loads((tmp_path / name / "results.json").read_text()))
    engines = {(r["host"], r["engine"]) for r in runs[0]["records"]}
    assert engines == {("sim-01", "qwen3-8b"), ("sim-01", "whisper"), ("sim-02", "qwen3-coder"), ("sim-02", "gpt-oss-120b"),
                       ("sim-03", "qwen3-vllm"), ("sim-03", "qwen3-sglang"), ("sim-01", "on-demand")}
    # The router: each model measured, first cold (unloaded, then one request: its load in the time to first
    # token), then warm at each shape.
    routed = [r for r in runs[0]["records"] if r["engine"] == "on-demand"]
    assert sorted({r["context"]["served_model"] for r in routed}) == sorted(ROUTER_MODELS) and len(routed) == 9
    for model in ROUTER_MODELS:
        (cold,) = [r for r in routed if r["context"]["served_model"] == model and r["shape"].get("cold")]
        (warm,) = [r for r in routed if r["context"]["served_model"] == model and not r["shape"].get("cold")
                   and r["shape"]["concurrency"] == 1]
        assert cold["figures"]["mean_ttft_ms"] > warm["figures"]["mean_ttft_ms"], (model, cold["figures"], warm["figures"])
    for record in runs[0]["records"]:
        figures = record["figures"]
        assert record["status"] == [] and figures["failed"] == 0 and figures["completed"] == record["shape"]["prompts"]
        measured = {k: v for k, v in figures.items() if isinstance(v, float)}
        assert measured and all(v > 0 for v in measured.values()), (record["engine"], figures)
        if "input_len" in record["shape"]:  # prompts made to the exact length, by the server's own count
            assert figures["total_input_tokens"] == 64 * figures["completed"], figures
            assert figures["total_output_tokens"] == 16 * figures["completed"], figures
        assert record["context"]["command_line"] and record["unit"]["nvpmodel"]["name"] == "MAXN"
    report = (tmp_path / "first" / "report.md").read_text()
    assert report.count("Serving Benchmark Result") == 19 and "| sim-03 | qwen3-vllm | vllm |" in report  # 5 engines, 3 routed models, 2 shapes; 3 cold starts
    for plot in ("throughput.png", "ttft.png", "whisper.png"):
        assert (tmp_path / "first" / plot).read_bytes()[:4] == b"\x89PNG"
    # Every figure of two runs paired and shown; a tolerance no change reaches (a cold start's time per
    # output token can be near 0 ms in one run, its tokens arriving together after the load: CI saw 0.01 → 1.94 ms).
    same = thorfleet("bench", "compare", str(tmp_path / "first"), str(tmp_path / "second"), "--tolerance", "1e9")
    assert same.returncode == 0 and same.stdout.count(" ok ") > 50, same.stdout
    # The first run again with one figure halved: exactly that figure regresses.
    injected = runs[0]
    next(r for r in injected["records"] if r["engine"] == "qwen3-vllm")["figures"]["output_throughput"] /= 2
    (tmp_path / "injected").mkdir()
    (tmp_path / "injected" / "results.json").write_text(json.dumps(injected))
    worse = thorfleet("bench", "compare", str(tmp_path / "first"), str(tmp_path / "injected"))
    regressed = [line for line in worse.stdout.splitlines() if "regressed" in line]
    assert worse.returncode == 1 and len(regressed) == 1, worse.stdout
    assert "qwen3-vllm" in regressed[0] and "output_throughput" in regressed[0] and "-50.0%" in regressed[0]


def test_tune_writes_a_patch_that_a_deploy_applies_and_serves(fresh_lab, tmp_path):
    """`thorfleet tune` on sim-01's llama-server (the CPU model, small shapes), its pick merged into a
    copy of the project's host_vars by `--apply`, and the deploy that applies it; the engine served throughout."""
    sim01 = fresh_lab[0]
    llama = main_pid(sim01, "thorfleet-qwen3-8b")
    project = project_with(tmp_path / "project", {})
    host_vars = tmp_path / "project" / "host_vars" / "sim-01.yml"
    shipped, engine_key = host_vars.read_text(), "  qwen3-8b:\n    api_key: {env: null, file: .cache/lab/ssh/engine-api-key}\n"
    assert engine_key in shipped
    host_vars.write_text("# kept by --apply\n" + shipped.replace(engine_key, engine_key + "    args:\n      top-k: 40  # the card's\n"))
    out = tmp_path / "tune"
    done = thorfleet("tune", str(project), "--host", "sim-01", "--engine", "qwen3-8b", "--input-len", "64",
                     "--output-len", "8", "--concurrency", "2", "--requests", "4", "--slots", "1,2", "--ubatch", "256,512",
                     "--out", str(out), "--apply", cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((out / "results.json").read_text())
    assert {(r["ubatch-size"], r["flash-attn"]) for r in result["first_stage"]} == {(256, "on"), (256, "off"), (512, "on"), (512, "off")}
    served = [c for c in result["candidates"] if c["runs"]]
    assert len(served) == 4 and all(r["failed"] == 0 and r["output_throughput"] > 0 for c in served for r in c["runs"])
    assert not result["unit_changed"] and result["unit_before"]["nvpmodel"]["name"] == "MAXN"
    assert main_pid(sim01, "thorfleet-qwen3-8b") == llama  # the engine kept serving; the unit was not changed
    assert ssh(sim01, "systemctl is-active thorfleet-qwen3-8b-tune").stdout.strip() != "active"
    bound = result["ttft_bound_ms"]
    pick = next(c for c in served if c["label"] == result["pick_label"])
    assert pick["ttft_ms"] <= bound == 1.5 * min(c["ttft_ms"] for c in served)
    assert f"objective: the most output tok/s at concurrency 2 with a mean TTFT of at most {bound:.0f} ms" in done.stdout
    patch = yaml.safe_load((out / "patch.yml").read_text())
    tuned = patch["engines"]["qwen3-8b"]["args"]
    assert tuned == result["pick"] and f"Pick: **{result['pick_label']}**" in (out / "report.md").read_text()
    assert (out / "tune.png").read_bytes()[:4] == b"\x89PNG"
    merged = host_vars.read_text()
    assert merged.startswith("# kept by --apply\n# sim-01 stands in") and f"merged into {host_vars}" in done.stdout.replace("\n", "")
    engine = yaml.safe_load(merged)["engines"]["qwen3-8b"]
    assert engine["args"] == {"top-k": 40, **tuned} and "top-k: 40  # the card's" in merged and engine["api_key"]["file"]
    applied = converge(project, "--limit", "sim-01")
    assert applied.returncode == 0, applied.output[-5000:]
    exec_start = ssh(sim01, "systemctl show -p ExecStart --value thorfleet-qwen3-8b").stdout
    assert f"--parallel {tuned['parallel']} " in exec_start and f"--ubatch-size {tuned['ubatch-size']} " in exec_start
    checked = verify(project, "--limit", "sim-01")
    assert checked.returncode == 0, checked.stdout[-5000:]
    assert converge("inventory/sim.py", "--limit", "sim-01").returncode == 0  # back as configured


def test_a_changed_model_restarts_only_the_engine_that_serves_it(fresh_lab, tmp_path):
    sim02 = fresh_lab[1]
    coder, gpt_oss = main_pid(sim02, "thorfleet-qwen3-coder"), main_pid(sim02, "thorfleet-gpt-oss-120b")
    moved = project_with(tmp_path, {})
    sim = tmp_path / "group_vars" / "sim.yml"
    data = yaml.safe_load(sim.read_text())
    data["models"]["gpt-oss-120b-gguf"]["dest"] = "/models/lab/gpt-oss-moved"
    sim.write_text(yaml.safe_dump(data))
    result = converge(moved, "--limit", sim02.name)
    assert result.returncode == 0, result.output[-5000:]
    assert main_pid(sim02, "thorfleet-qwen3-coder") == coder
    assert main_pid(sim02, "thorfleet-gpt-oss-120b") != gpt_oss
    changed = result.changed()
    assert "engines | Engine gpt-oss-120b (llama-server)" in changed and "engines | Engine qwen3-coder (llama-server)" not in changed


def test_a_project_template_replaces_the_shipped_one_in_render_and_on_the_unit(fresh_lab, tmp_path):
    """A fleet project's templates/ overrides a shipped template by name: `render` shows it, the deploy
    writes it (and restarts what reads it); the example's own role stays applied from the copy."""
    sim01 = fresh_lab[0]
    project = project_with(tmp_path, {})
    override = tmp_path / "templates" / "roles" / "unit_metrics" / "node-exporter.default.j2"
    override.parent.mkdir(parents=True)
    override.write_text('# this project\'s own node exporter defaults\nARGS="{{ args }}"\n')
    shown = thorfleet("render", str(project), sim01.name, "--file", "/etc/default/prometheus-node-exporter", cwd=ROOT)
    assert shown.returncode == 0 and "this project's own node exporter defaults" in shown.stdout, shown.stdout + shown.stderr
    result = converge(project, "--limit", sim01.name)
    assert result.returncode == 0, result.output[-5000:]
    assert "this project's own" in ssh(sim01, "cat /etc/default/prometheus-node-exporter").stdout
    assert ssh(sim01, "systemctl is-active prometheus-node-exporter").stdout.strip() == "active"
    back = converge("inventory/sim.py", "--limit", sim01.name)
    assert back.returncode == 0 and "this project's own" not in ssh(sim01, "cat /etc/default/prometheus-node-exporter").stdout


def test_a_removed_engine_is_stopped_and_its_unit_removed(fresh_lab, tmp_path):
    sim01 = fresh_lab[0]
    llama = main_pid(sim01, "thorfleet-qwen3-8b")
    without = project_with(tmp_path, {})
    (tmp_path / "group_vars" / "asr.yml").write_text("{}\n")  # sim-01's whisper engine leaves the config
    result = converge(without, "--limit", sim01.name)
    assert result.returncode == 0, result.output[-5000:]
    assert ssh(sim01, "systemctl cat thorfleet-whisper.service").returncode != 0
    assert ssh(sim01, "test -e /etc/thorfleet/engines/whisper.env").returncode != 0
    assert ssh(sim01, "curl -s -o /dev/null http://127.0.0.1:8080/health").returncode != 0
    assert main_pid(sim01, "thorfleet-qwen3-8b") == llama  # the other engine was not touched
    assert converge(without, "--limit", sim01.name).changed() == []
    assert converge("inventory/sim.py", "--limit", sim01.name).returncode == 0  # back as configured


def test_a_flag_the_engine_rejects_fails_before_the_unit_is_touched(fresh_lab, tmp_path):
    sim01 = fresh_lab[0]
    unit_file = ssh(sim01, "cat /etc/systemd/system/thorfleet-qwen3-8b.service").stdout
    llama = main_pid(sim01, "thorfleet-qwen3-8b")
    renamed = project_with(tmp_path / "renamed", {"sim-01": {"engines": {"qwen3-8b": {"args": {"no-mmap": True}}}}})
    result = converge(renamed, "--limit", sim01.name)
    assert result.returncode != 0
    assert "has no --no-mmap: it became --load-mode" in result.output and "Traceback" not in result.output
    unknown = project_with(tmp_path / "unknown", {"sim-01": {"engines": {"qwen3-8b": {"args": {"no-such-flag": True}}}}})
    result = converge(unknown, "--limit", sim01.name)
    assert result.returncode != 0
    assert "engine qwen3-8b: llama-server (version: " in result.output
    assert "rejects its command line, so its unit was left as it was: --no-such-flag is not an option of this version" \
        in result.output
    checked = subprocess.run([sys.executable, "-c", "from thorfleet.commands import main; main()", "validate", str(unknown),
                              "--against", sim01.name], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1 and "engine qwen3-8b: llama-server (version: " in checked.stderr
    assert "--no-such-flag is not an option of this version" in checked.stderr
    assert ssh(sim01, "cat /etc/systemd/system/thorfleet-qwen3-8b.service").stdout == unit_file
    assert main_pid(sim01, "thorfleet-qwen3-8b") == llama
    assert ssh(sim01, "curl -fsS http://127.0.0.1:8000/health").returncode == 0


def container_id(unit, name: str) -> str:
    return ssh(unit, f"sudo docker inspect --format '{{{{.Id}}}}' thorfleet-{name}").stdout.strip()


def test_a_flag_the_image_rejects_fails_before_the_container_engine_is_touched(fresh_lab, tmp_path):
    """The check runs `vllm serve --help` in the engine's image (the stand-in prints vLLM 0.10.2's real
    help). Without the check the same mistake leaves an engine that does not start: shown with
    `check_flags: false`, then the configured engine back."""
    sim03 = fresh_lab[2]
    unit_file = ssh(sim03, "cat /etc/systemd/system/thorfleet-qwen3-vllm.service").stdout
    running = container_id(sim03, "qwen3-vllm")
    typo = {"sim-03": {"engines": {"qwen3-vllm": {"args": {"max-num-batched": 4096}}}}}  # vLLM: --max-num-batched-tokens
    result = converge(project_with(tmp_path / "typo", typo), "--limit", sim03.name)
    assert result.returncode != 0 and "Traceback" not in result.output
    assert "engine qwen3-vllm: vllm (thorfleet-lab/vllm:standin (" in result.output
    assert "rejects its command line, so its unit was left as it was: --max-num-batched is not an option of this " \
           "version" in result.output
    checked = subprocess.run([sys.executable, "-c", "from thorfleet.commands import main; main()", "validate",
                              str(tmp_path / "typo/inventory/sim.py"), "--against", sim03.name],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1 and "engine qwen3-vllm: vllm (thorfleet-lab/vllm:standin (" in checked.stderr
    assert "qwen3-sglang" not in checked.stderr  # the other engine's command line is accepted
    assert ssh(sim03, "cat /etc/systemd/system/thorfleet-qwen3-vllm.service").stdout == unit_file
    assert container_id(sim03, "qwen3-vllm") == running
    assert ssh(sim03, "curl -fsS http://127.0.0.1:8000/health").returncode == 0

    unchecked = {"sim-03": {"engines": {"qwen3-vllm": {"args": {"max-num-batched": 4096}, "check_flags": False,
                                                       "health_timeout": 10}}}}
    result = converge(project_with(tmp_path / "unchecked", unchecked), "--limit", sim03.name)
    assert result.returncode != 0 and "thorfleet-qwen3-vllm did not answer" in result.output
    assert "error: unrecognized arguments: --max-num-batched" in result.output  # the journal lines it shows
    assert converge("inventory/sim.py", "--limit", sim03.name).returncode == 0
    assert ssh(sim03, "curl -fsS http://127.0.0.1:8000/health").returncode == 0


# The gateway (sim-03, inventory/sim.py's `gateway` group) and rollouts through it.

GATEWAY = "http://10.231.0.13:8400"  # sim-03's address in the lab, the gateway's port (group_vars/gateway.yml)


def lab_key() -> str:
    return (ROOT / ".cache" / "lab" / "ssh" / "engine-api-key").read_text().split("\n", 1)[0].strip()


def gateway_servers() -> dict:
    from thorfleet.fleet import load_fleet
    from thorfleet.roles.gateway.runtime import Gateway

    (host,) = load_fleet(ROOT / "inventory" / "sim.py").with_role("gateway")
    with Gateway(host) as gateway:
        return {row["server"]: row for row in gateway.servers()}


class Load:
    """Streaming chat requests through the gateway at a steady concurrency, until stopped: for `qwen3`,
    or spread over `models` (each thread asks for each in turn, starting at its own)."""

    def __init__(self, concurrency: int = 4, models: tuple[str, ...] = ("qwen3",)):
        import threading

        from thorfleet.bench.client import Endpoint

        self.endpoints = [Endpoint(GATEWAY, model, lab_key(), chat=True) for model in models]
        self.stop, self.results, self.by_model = threading.Event(), [], defaultdict(list)
        self.threads = [threading.Thread(target=self._loop, args=(index,), daemon=True) for index in range(concurrency)]

    def _loop(self, first: int) -> None:
        from thorfleet.bench.client import stream_one

        turn = first
        while not self.stop.is_set():
            endpoint = self.endpoints[turn % len(self.endpoints)]
            result = stream_one(endpoint, "Tell me about the sea.", 8, timeout=120)
            self.results.append(result)
            self.by_model[endpoint.model].append(result)
            turn += 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(150)

    @property
    def failed(self) -> list[str]:
        return [r.error for r in self.results if not r.ok]


def rollout(inventory, *args: str) -> subprocess.CompletedProcess:
    return thorfleet("rollout", str(inventory), *args, timeout=1800)


def exec_start(unit, engine: str) -> str:
    return ssh(unit, f"systemctl show -p ExecStart --value thorfleet-{engine}.service").stdout


def command_line(unit, engine: str) -> str:
    """The engine's command line from its unit (ExecStart without the running process's pid and times)."""
    return exec_start(unit, engine).split("argv[]=", 1)[1].split(" ;", 1)[0]


def while_unit_is_out(unit: str, model: str) -> tuple[int, str, dict]:
    """A request for a model whose only unit is out of the gateway (maintenance): status, Retry-After, JSON body."""
    import urllib.error
    import urllib.request

    from thorfleet.fleet import load_fleet
    from thorfleet.roles.gateway.runtime import Gateway

    (host,) = load_fleet(ROOT / "inventory" / "sim.py").with_role("gateway")
    request = urllib.request.Request(f"{GATEWAY}/v1/chat/completions", method="POST",
                                     data=json.dumps({"model": model, "messages": [{"role": "user", "content": "Hi"}],
                                                      "max_tokens": 4}).encode(),
                                     headers={"Authorization": f"Bearer {lab_key()}", "Content-Type": "application/json"})
    with Gateway(host) as gateway:
        gateway.set_unit_state(unit, "maint")
        try:
            urllib.request.urlopen(request, timeout=30)
            return 200, "", {}
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Retry-After", ""), json.loads(err.read())
        finally:
            gateway.set_unit_state(unit, "ready")


def test_the_gateway_routes_each_model_to_every_unit_serving_it_and_endpoints_lists_them(fresh_lab):
    from thorfleet.bench.client import Endpoint, stream_one
    from thorfleet.roles.gateway.runtime import get

    before = gateway_servers()
    endpoint = Endpoint(GATEWAY, "qwen3", lab_key(), chat=True)
    results = [stream_one(endpoint, "Hello there.", 4, timeout=120) for _ in range(12)]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    after = gateway_servers()
    served = {s: after[s]["served"] - before[s]["served"] for s in after if s.split(".", 1)[1] in ("qwen3-8b", "qwen3-vllm", "qwen3-sglang")}
    assert sorted(served) == ["sim-01.qwen3-8b", "sim-03.qwen3-sglang", "sim-03.qwen3-vllm"]
    assert all(count > 0 for count in served.values()) and sum(served.values()) == 12, served
    coder = stream_one(Endpoint(GATEWAY, "qwen3-coder", lab_key(), chat=True), "Hello.", 4, timeout=120)
    assert coder.ok, coder.error
    assert get(f"{GATEWAY}/v1/models", "wrong-key")[0] == 401
    status, retry_after, body = while_unit_is_out("sim-02", "qwen3-coder")
    assert (status, retry_after) == (503, "5") and body["error"]["code"] == "model_unavailable", body
    assert stream_one(Endpoint(GATEWAY, "no-such-model", lab_key(), chat=True), "Hello.", 4).error.startswith("HTTP 404")
    listed = thorfleet("endpoints", "inventory/sim.py", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["model"]: row for row in json.loads(listed.stdout)}
    assert {u["unit"] for u in rows["qwen3"]["units"]} == {"sim-01", "sim-03"}
    assert all(u["state"] == "UP" for u in rows["qwen3"]["units"]), rows["qwen3"]
    assert rows["qwen3"]["url"] == f"{GATEWAY}/v1"
    for model in ROUTER_MODELS:  # sim-01's router: each of its models with its own state, as the router says
        (unit,) = rows[model]["units"]
        assert unit["engine"] == "on-demand" and unit["model_state"] in ("loaded", "loading", "sleeping", "unloaded"), unit
    # One model, as OpenAI's client's `models.retrieve` asks for it.
    status, body = get(f"{GATEWAY}/v1/models/qwen3-long", lab_key())
    assert status == 200 and json.loads(body)["id"] == "qwen3-long", body
    assert get(f"{GATEWAY}/v1/models/no-such-model", lab_key())[0] == 404


def test_a_plain_deploy_drains_an_engine_behind_the_gateway_before_restarting_it(fresh_lab, tmp_path):
    sim01 = fresh_lab[0]
    inventory = project_with(tmp_path, {"sim-01": {"engines": {"qwen3-8b": {"args": {"top-k": 25}}}}})
    with Load() as load:
        result = converge(inventory, "--limit", "sim-01")
    assert result.returncode == 0, result.output[-3000:]
    assert "sim-01.qwen3-8b drained at sim-03" in result.output
    assert load.failed == [] and len(load.results) > 4, load.failed[:3]
    assert "--top-k 25" in exec_start(sim01, "qwen3-8b")
    assert gateway_servers()["sim-01.qwen3-8b"]["status"] == "UP"


def test_a_canary_that_fails_its_health_check_stops_the_rollout_and_goes_back_to_its_revision(fresh_lab, tmp_path):
    sim01, sim02, _ = fresh_lab
    # A controller that knows none of the models (the fleet's fan-out left the lab's in .cache/models,
    # from which the memory plan would be known): no stand-in can be planned.
    unknown = {"model_store": {"controller_cache": str(tmp_path / "empty-cache")}}
    inventory = project_with(tmp_path, {
        "sim-01": {"engines": {"qwen3-8b": {"args": {"lora": "/nonexistent/adapter.gguf"}, "health_timeout": 600}}, **unknown},
        "sim-02": {"engines": {"qwen3-coder": {"args": {"top-k": 30}}}, **unknown},
        "sim-03": unknown,
    })
    refused = rollout(inventory, "--canary", "sim-01", "--batch", "1")
    assert refused.returncode == 1 and "nothing was touched" in refused.stderr, refused.stdout[-3000:]
    assert "error: qwen3-coder (at the gateway sim-03) has no other server while sim-02 is drained in batch 2" in refused.stdout
    sim01_before, sim02_before = command_line(sim01, "qwen3-8b"), command_line(sim02, "qwen3-coder")
    with Load() as load:
        stopped = rollout(inventory, "--canary", "sim-01", "--batch", "1", "--allow-outage")
    assert stopped.returncode == 1, stopped.stdout[-3000:]
    assert "stopped: batch 1" in stopped.stderr and "untouched" in stopped.stdout
    # Failed as soon as the engine exited, not after its 600 s, and the reason is the engine's own line.
    failed = next(line for line in stopped.stdout.splitlines() if line.startswith("sim-01: failed ("))
    assert "did not answer http://127.0.0.1:8000/health: exited after " in failed, failed
    assert "its first error: " in failed and "failed to open '/nonexistent/adapter.gguf': No such file or directory" in failed, failed
    # Then deployed again with the revision it had, gated, and back in the gateway.
    assert "sim-01: FAILED, rolled back and back in the gateway" in stopped.stdout, stopped.stdout[-3000:]
    assert load.failed == [] and len(load.results) > 4
    assert command_line(sim01, "qwen3-8b") == sim01_before and command_line(sim02, "qwen3-coder") == sim02_before
    assert "--top-k" not in sim02_before
    states = gateway_servers()
    assert states["sim-01.qwen3-8b"]["status"] == "UP" and states["sim-03.qwen3-vllm"]["status"] == "UP"


def test_a_rollout_under_load_changes_every_llama_server_with_no_failed_request(fresh_lab, tmp_path):
    sim01, sim02, _ = fresh_lab
    inventory = project_with(tmp_path, {
        "sim-01": {"engines": {"qwen3-8b": {"args": {"top-k": 30}}}},
        "sim-02": {"engines": {"qwen3-coder": {"args": {"top-k": 30}}, "gpt-oss-120b": {"args": {"top-k": 30}}}},
    })
    with Load() as load:
        done = rollout(inventory, "--canary", "sim-01", "--batch", "1", "--allow-outage", "--no-perf-gate")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert load.failed == [] and len(load.results) > 10, load.failed[:3]
    assert "sim-03: nothing to change (its plan): not drained, not deployed" in done.stdout
    for unit, engine in ((sim01, "qwen3-8b"), (sim02, "qwen3-coder"), (sim02, "gpt-oss-120b")):
        assert "--top-k 30" in exec_start(unit, engine), engine
    assert {s["status"] for s in gateway_servers().values()} == {"UP"}


def test_a_model_with_one_server_is_served_by_a_stand_in_while_its_unit_is_rolled_out(fresh_lab, tmp_path):
    """sim-02 alone serves qwen3-coder and gpt-oss. Once the controller knows the models (`hosts --memory`),
    the memory plan has room for each engine twice: the rollout starts a copy of each beside it on port
    + 1000, adds it to the gateway, drains, deploys and gates sim-02, puts it back, then removes the
    copies: no --allow-outage, and no failed request for either model."""
    _, sim02, _ = fresh_lab
    memo = ROOT / ".cache" / "models" / "model-shapes.json"  # what `hosts --memory` remembers; restored after
    kept = memo.read_bytes() if memo.exists() else None
    try:
        learned = thorfleet("hosts", "inventory/sim.py", "--memory")
        assert learned.returncode == 0, learned.stdout[-2000:] + learned.stderr[-2000:]
        inventory = project_with(tmp_path, {"sim-02": {"engines": {"qwen3-coder": {"args": {"top-k": 22}}}}})
        with Load(models=("qwen3-coder", "gpt-oss")) as load:
            done = rollout(inventory, "--limit", "sim-02")
    finally:
        memo.unlink(missing_ok=True) if kept is None else memo.write_bytes(kept)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert load.failed == [] and all(len(load.by_model[m]) > 4 for m in ("qwen3-coder", "gpt-oss")), load.failed[:3]
    for engine, model, port in (("qwen3-coder", "qwen3-coder", 9000), ("gpt-oss-120b", "gpt-oss", 9001)):
        assert (f"stand-in: {model} (at the gateway sim-03) is served by a stand-in of sim-02's {engine} on port {port} "
                "while sim-02 is drained in batch 1") in done.stdout, done.stdout[-3000:]
        assert f"sim-02: stand-in of {engine} UP in chat.{model} at sim-03 after " in done.stdout
        assert f"sim-02: stand-in of {engine} stopped" in done.stdout
    out = done.stdout
    assert out.index("stand-in of qwen3-coder UP") < out.index("sim-02: drained at sim-03") < out.index("sim-02: done")
    assert out.index("sim-02: done") < out.index("stand-in of qwen3-coder drained in")
    assert "--top-k 22" in exec_start(sim02, "qwen3-coder")
    assert not [s for s in gateway_servers() if s.endswith(".stand-in")]
    assert ssh(sim02, "systemctl list-units --all --no-legend 'thorfleet-*stand-in*'").stdout.strip() == ""


def test_the_canarys_performance_gate_passes_a_harmless_change_and_rolls_back_a_slow_one(fresh_lab, tmp_path):
    """A short bench of the canary, drained, before and after its change, under load through the gateway: a
    sampling flag passes; one slot where the gate sends two requests at a time (`parallel: 1`: healthy,
    answering, verify passes) fails it and is rolled back; no client request fails either way."""
    sim01 = fresh_lab[0]
    harmless = project_with(tmp_path / "harmless", {"sim-01": {"engines": {"qwen3-8b": {"args": {"top-k": 35}}}}})
    with Load() as load:
        passed = rollout(harmless, "--canary", "sim-01", "--limit", "sim-01", "--allow-outage")  # sim-01's router models
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert load.failed == [] and len(load.results) > 4, load.failed[:3]
    said = next(line for line in passed.stdout.splitlines() if line.startswith("sim-01: performance gate: "))
    assert said.startswith("sim-01: performance gate: qwen3-8b: output tok/s ") and said.endswith("within tolerance"), said
    before = command_line(sim01, "qwen3-8b")
    slow = project_with(tmp_path / "slow", {"sim-01": {"engines": {"qwen3-8b": {"args": {"top-k": 35, "parallel": 1}}}}})
    with Load() as load:
        stopped = rollout(slow, "--canary", "sim-01", "--limit", "sim-01", "--allow-outage")
    assert stopped.returncode == 1, stopped.stdout[-3000:]
    assert load.failed == [] and len(load.results) > 4, load.failed[:3]
    said = next(line for line in stopped.stdout.splitlines() if line.startswith("sim-01: performance gate: "))
    assert ": REGRESSED: " in said, said
    assert "sim-01: FAILED, rolled back and back in the gateway: the performance gate failed" in stopped.stdout
    assert command_line(sim01, "qwen3-8b") == before and "--parallel 8 " in before
    assert gateway_servers()["sim-01.qwen3-8b"]["status"] == "UP"


def test_an_unreachable_unit_fails_the_rollout_and_resume_finishes_it(fresh_lab, tmp_path):
    _, sim02, _ = fresh_lab
    inventory = project_with(tmp_path, {"sim-02": {"engines": {"qwen3-coder": {"args": {"top-k": 20}}}}})
    faults.cut(sim02)
    try:
        with Load() as load:
            stopped = rollout(inventory, "--batch", "1", "--allow-outage")
        assert stopped.returncode == 1 and "sim-02 (10.231.0.12:22) cannot be reached over SSH" in stopped.stdout, \
            stopped.stdout[-3000:]
        assert "stopped: batch 2" in stopped.stderr
        assert load.failed == []
        skipped = rollout(inventory, "--resume", "--skip-unreachable", "--allow-outage")
        assert skipped.returncode == 0 and "skipped" in skipped.stdout, skipped.stdout[-3000:]
    finally:
        faults.restore(sim02)
    resumed = rollout(inventory, "--resume", "--allow-outage")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert "--top-k 20" in exec_start(sim02, "qwen3-coder")


def revisions_on(unit) -> list[str]:
    return sorted(name[:-5] for name in ssh(unit, "sudo ls /var/lib/thorfleet/revisions").stdout.split() if name.endswith(".json"))


def test_undo_of_a_completed_rollout_restores_every_units_previous_flags_and_a_deploy_then_changes_nothing(fresh_lab, tmp_path):
    sim01, sim02, _ = fresh_lab
    assert converge("inventory/sim.py").returncode == 0  # as configured, whatever ran before
    engines = ((sim01, "qwen3-8b"), (sim02, "qwen3-coder"))
    configured = {unit.name: (command_line(unit, engine), revisions_on(unit)) for unit, engine in engines}
    inventory = project_with(tmp_path, {"sim-01": {"engines": {"qwen3-8b": {"args": {"top-k": 31}}}},
                                        "sim-02": {"engines": {"qwen3-coder": {"args": {"top-k": 31}}}}})
    done = rollout(inventory, "--batch", "1", "--allow-outage")
    assert done.returncode == 0, done.stdout[-3000:]
    for unit, engine in engines:
        assert "--top-k 31" in exec_start(unit, engine) and revisions_on(unit)[-1] not in configured[unit.name][1]
    with Load() as load:
        undone = rollout(inventory, "--undo", "--batch", "1", "--allow-outage")
    assert undone.returncode == 0, undone.stdout[-3000:]
    assert load.failed == [] and len(load.results) > 4, load.failed[:3]
    assert "batches: sim-01 | sim-02" in undone.stdout  # sim-03, which the rollout did not change, is not undone
    for unit, engine in engines:
        flags, revisions = configured[unit.name]
        assert command_line(unit, engine) == flags
        assert f"revision {revisions[-1]}: verify: " in undone.stdout
        assert revisions_on(unit)[-1][5:] == revisions[-1][5:]  # the earlier fingerprint, recorded again as the newest
    again = converge("inventory/sim.py")
    assert again.returncode == 0 and again.changed() == [], again.changed()


def test_a_client_key_rotation_fails_no_request(fresh_lab, tmp_path):
    """docs/gateway.md's procedure: the new key in `api_key`, the old one in `previous_api_keys`, deployed
    while clients keep sending the old key; then the old one removed."""
    from thorfleet.roles.gateway.runtime import get

    old, new = lab_key(), "lab-rotated-key-0123"
    (tmp_path / "new-key").write_text(new + "\n")
    rotating = project_with(tmp_path / "rotating", {"sim-03": {"gateway": {
        "api_key": {"env": None, "file": str(tmp_path / "new-key")},
        "previous_api_keys": [{"file": ".cache/lab/ssh/engine-api-key"}]}}})
    with Load() as load:  # clients on the old key throughout
        assert converge(rotating, "--limit", "sim-03").returncode == 0
    assert load.failed == [] and len(load.results) > 4, load.failed[:3]
    assert get(f"{GATEWAY}/v1/models", old)[0] == 200 and get(f"{GATEWAY}/v1/models", new)[0] == 200
    rotated = project_with(tmp_path / "rotated", {"sim-03": {"gateway": {"api_key": {"env": None, "file": str(tmp_path / "new-key")}}}})
    assert converge(rotated, "--limit", "sim-03").returncode == 0
    assert get(f"{GATEWAY}/v1/models", old)[0] == 401 and get(f"{GATEWAY}/v1/models", new)[0] == 200
    assert converge("inventory/sim.py", "--limit", "sim-03").returncode == 0  # back to the lab's key
    assert get(f"{GATEWAY}/v1/models", old)[0] == 200


def test_an_engine_key_rotation_fails_no_request(fresh_lab, tmp_path):
    """docs/gateway.md's engine-key rotation, under a steady load on qwen3-coder: served by sim-02's
    llama-server and, in this test, a second one on sim-01 (the lab's qwen3 has a vLLM engine, which
    takes one key only). The new key in both engines' `api_key` and the old one in `previous_api_keys`,
    deployed a unit at a time and then the gateway; then the old key removed, a unit at a time."""
    from thorfleet.core.http import bearer, get

    old, new = lab_key(), "lab-rotated-engine-key-0456"
    (tmp_path / "new-key").write_text(new + "\n")
    new_key, old_key = {"env": None, "file": str(tmp_path / "new-key")}, {"env": None, "file": ".cache/lab/ssh/engine-api-key"}
    twin = {"kind": "llama-server", "model": "qwen3-coder-30b-gguf", "served_name": "qwen3-coder", "port": 8010,
            "bind": "0.0.0.0", "api_key": old_key, "slot_context": 4096, "args": {"parallel": 2}}
    engines = {"sim-01": "coder-twin", "sim-02": "qwen3-coder"}

    def project(name: str, keys: dict) -> Path:
        return project_with(tmp_path / name, {"sim-01": {"engines": {"coder-twin": {**twin, **keys}}},
                                              "sim-02": {"engines": {"qwen3-coder": keys}}})

    def accepts(key: str) -> list[int]:
        return [get(f"http://{unit.address}:{port}/v1/models", bearer(key))[0] for unit, port in ((fresh_lab[0], 8010), (fresh_lab[1], 8000))]

    twinned = project("twinned", {})
    for limit in ("sim-01", "sim-03"):  # the second server, routed
        assert converge(twinned, "--limit", limit).returncode == 0
    rotating = project("rotating", {"api_key": new_key, "previous_api_keys": [old_key]})
    rotated = project("rotated", {"api_key": new_key})
    with Load(models=("qwen3-coder",)) as load:
        for limit in (*engines, "sim-03"):  # each engine accepts both keys before the gateway sends the new one
            done = converge(rotating, "--limit", limit)
            assert done.returncode == 0, done.output[-5000:]
        assert accepts(old) == accepts(new) == [200, 200]
        for limit in engines:
            done = converge(rotated, "--limit", limit)
            assert done.returncode == 0, done.output[-5000:]
    assert load.failed == [] and len(load.results) > 8, load.failed[:3]
    assert accepts(old) == [401, 401] and accepts(new) == [200, 200]
    for limit in (*engines, "sim-03"):  # back to the lab's key, without the second server (no load now)
        assert converge("inventory/sim.py", "--limit", limit).returncode == 0
    assert ssh(fresh_lab[0], "systemctl is-active thorfleet-coder-twin").stdout.strip() != "active"


ROUTER_MODELS = ("qwen3-long", "qwen3-coder-on-demand", "gpt-oss-on-demand")  # sim-01's router (group_vars/router.yml)
# llama.cpp's router may evict a model between a request's "is it loaded" and its proxying: that one request
# fails (llama.cpp#28698, docs/roles/engines.md). Only a load over more models than models_max meets it.
EVICTION_RACE = "proxy error: Could not establish connection"
# How a request for a router model fails while the model's instance is replaced (a preset reload unloads it):
# refused ("is not running", "failed to load"), its proxying to the stopping instance cut ("proxy error"), or,
# in flight, its stream cut short (bench/client.py's "stream: …", or a stream that ended before any content).
REPLACEMENT_FAILURES = ("is not running", "failed to load", "proxy error", "stream: ", "the stream carried no content")


def unexplained_failures(load: "Load") -> list[str]:
    """The failed requests of a load over more models than the router holds, less the eviction race's,
    which must stay rare (one request in 20 at most)."""
    raced = [error for error in load.failed if EVICTION_RACE in error]
    assert len(raced) * 20 <= len(load.results), f"{len(raced)} of {len(load.results)} requests met the eviction race"
    return [error for error in load.failed if EVICTION_RACE not in error]


def router_now(unit) -> tuple[int, dict[str, str]]:
    """(bytes resident in the router and its models' processes, each model's state as the router reports
    it: GET /models with its key read on the unit). The lab's units show no cgroup memory, so RSS it is."""
    key = "/etc/thorfleet/engines/on-demand.api-key"
    done = ssh(unit, "pid=$(systemctl show -p MainPID --value thorfleet-on-demand.service); "
                     "ps -o rss= -p $pid --ppid $pid | awk '{s+=$1} END {print s*1024}'; "
                     f"sudo sh -c 'printf \"Authorization: Bearer %s\" \"$(cat {key})\"' | curl -fsS -H @- http://127.0.0.1:8002/models")
    assert done.returncode == 0, done.stderr
    resident, listed = done.stdout.split("\n", 1)
    return int(resident), {model["id"]: model["status"]["value"] for model in json.loads(listed)["data"]}


def test_a_router_loads_and_unloads_models_under_load_within_its_memory_plan_and_refuses_an_unknown_flag(fresh_lab, tmp_path):
    """sim-01's router: three models, two loaded at most. A load spread over the three through the gateway
    makes it unload and load models, with no failed request and its memory within the plan; an idle
    model sleeps and is served again; a model flag the build does not know is refused before the restart."""
    import threading

    from thorfleet.core.model_shape import ModelFacts, read_shape
    from thorfleet.fleet import load_fleet
    from thorfleet.lab import layout

    sim01 = fresh_lab[0]
    config = load_fleet(ROOT / "inventory" / "sim.py").hosts["sim-01"].config
    router = config.engines["on-demand"]
    gguf = layout.LAB / "models/thorfleet-lab/tiny-qwen2-GGUF/tiny-qwen2-f16.gguf"  # each of the lab's three models
    with gguf.open("rb") as stream:
        facts = ModelFacts(gguf.stat().st_size, read_shape(stream))
    plan = router.planned_need(config, "on-demand", lambda entry: facts)
    assert router.models_max == 2 and plan.known, plan
    samples, sampling = [], threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append(router_now(sim01))
            time.sleep(0.3)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with Load(4, ROUTER_MODELS) as load:
            time.sleep(40)
    finally:
        sampling.set()
        sampler.join(10)
    served = {model: sum(1 for r in load.by_model[model] if r.ok) for model in ROUTER_MODELS}
    assert unexplained_failures(load) == [] and all(served.values()), (load.failed[:5], served)
    # Each model loaded at some point, and unloaded at a later one to make room; never more than two at once.
    held = [[m for m, state in states.items() if state in ("loading", "loaded", "sleeping")] for _, states in samples]
    assert len(samples) > 20 and max(len(h) for h in held) <= 2, held
    unloaded = {m for before, after in zip(held, held[1:]) for m in set(before) - set(after)}
    assert unloaded and set().union(*held) == set(ROUTER_MODELS), held
    peak = max(resident for resident, _ in samples)
    assert 0 < peak <= plan.total, f"the router held {peak} bytes, its plan {plan.total}"

    # Idle past sim-01's sleep_idle_seconds, a loaded model sleeps; a request wakes it.
    asleep = wait_for("a model asleep", lambda: [m for m, state in router_now(sim01)[1].items() if state == "sleeping"], timeout=60)
    with Load(1, (asleep[0],)) as load:
        wait_for("a request served", lambda: any(r.ok for r in load.results), timeout=60)
    assert load.failed == [] and router_now(sim01)[1][asleep[0]] == "loaded"

    pid = main_pid(sim01, "thorfleet-on-demand")
    bad = project_with(tmp_path, {"sim-01": {"engines": {"on-demand": {"models": {"gpt-oss-on-demand": {"args": {"no-such-flag": 3}}}}}}})
    refused = converge(bad, "--limit", "sim-01")
    assert refused.returncode != 0 and "model gpt-oss-on-demand: --no-such-flag is not an option of this version" in refused.output, \
        refused.output[-3000:]
    assert main_pid(sim01, "thorfleet-on-demand") == pid
    with Load(2, ROUTER_MODELS) as load:
        wait_for("each model served", lambda: all(any(r.ok for r in load.by_model[m]) for m in ROUTER_MODELS), timeout=90)
    assert unexplained_failures(load) == []

    # One model's flag changed under load on two models (as many as the router holds, so that nothing is
    # evicted): the router reloads its preset (that model alone unloaded), not restarted: the other
    # answers throughout.
    pair = ("qwen3-long", "gpt-oss-on-demand")
    with Load(2, pair) as warm:
        wait_for("both models served", lambda: all(any(r.ok for r in warm.by_model[m]) for m in pair), timeout=90)
    assert sorted(m for m, state in router_now(sim01)[1].items() if state == "loaded") == sorted(pair)
    changed = project_with(tmp_path / "changed", {"sim-01": {"engines": {"on-demand": {"models": {"gpt-oss-on-demand": {
        "args": {"top-k": 30}}}}}}})
    with Load(4, pair) as load:
        done = converge(changed, "--limit", "sim-01")
        time.sleep(3)
    assert done.returncode == 0, done.output[-3000:]
    assert [op for op in done.changed() if op.startswith("engines")] == ["engines | Engine on-demand (llama-router)"], done.changed()
    untouched = load.by_model["qwen3-long"]
    assert untouched and all(r.ok for r in untouched), [r.error for r in untouched if not r.ok][:3]
    # The changed model's requests may fail while its instance is replaced (docs/roles/engines.md): one in
    # flight is cut, a new one is refused; then it serves. Any other failure is not the replacement's.
    replaced = [r.error for r in load.by_model["gpt-oss-on-demand"] if not r.ok]
    assert not [e for e in replaced if not any(words in e for words in REPLACEMENT_FAILURES)], replaced
    with Load(1, ("gpt-oss-on-demand",)) as after:
        wait_for("the changed model served", lambda: any(r.ok for r in after.results), timeout=60)
    assert after.failed == []
    assert main_pid(sim01, "thorfleet-on-demand") == pid
    assert "top-k = 30" in ssh(sim01, "sudo cat /etc/thorfleet/engines/on-demand.models.ini").stdout
    again = converge(changed, "--limit", "sim-01")
    assert again.returncode == 0 and again.changed() == [], again.changed()


def wait_for(what: str, check, timeout: float = 90, every: float = 2):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(every)
    return found


def test_prometheus_scrapes_every_target_counts_the_bench_tokens_fires_engine_down_and_status_shows_it(fresh_lab, tmp_path):
    """The monitoring role on sim-03 (the gateway's host, no `monitoring` group declared): every
    engine, node exporter and the gateway up; a bench's generated tokens in llama-server's counter;
    a stopped engine's alert firing; `thorfleet status` showing every unit and engine."""
    from thorfleet.fleet import load_fleet
    from thorfleet.roles.monitoring.runtime import connect

    fleet = load_fleet(ROOT / "inventory" / "sim.py")
    (monitor,) = fleet.with_role("monitoring")
    assert monitor.name == "sim-03"
    generated = 'llamacpp:tokens_predicted_total{unit="sim-02",engine="qwen3-coder"}'
    with connect(monitor) as prometheus:
        # (Series of Debian's own configuration, before the deploy replaced it, carry no `thorfleet` label.)
        seen: list = []

        def all_up():
            seen[:] = prometheus.query('up{thorfleet!="", kind!="llama-router"}')
            return seen[:] if len(seen) == 9 and all(v == 1 for _, v in seen) else None

        try:  # a fresh converge on 2 busy cores: engines may take minutes to answer their first scrape
            up = wait_for("every target scraped", all_up, timeout=300)
        except AssertionError as err:
            raise AssertionError(f"{err}; last seen: {[(m.get('job'), m.get('unit'), m.get('engine'), v) for m, v in seen]}") from None
        # The router's models, each scraped on its own (up only while it is loaded or asleep).
        assert sorted(m["model"] for m, _ in prometheus.query('up{job="llama-router"}')) == sorted(ROUTER_MODELS)
        assert sorted((m["job"], m["unit"]) for m, _ in up) == [
            ("gateway", "sim-03"), ("llama-server", "sim-01"), ("llama-server", "sim-02"), ("llama-server", "sim-02"),
            ("node", "sim-01"), ("node", "sim-02"), ("node", "sim-03"), ("sglang", "sim-03"), ("vllm", "sim-03")]
        # The counter as of a scrape made after this point: earlier requests (a gate's checks) are all in it.
        asked = time.time()
        wait_for("a scrape of the counter after the bench's start", lambda: prometheus.query(f"timestamp({generated})")[0][1] > asked,
                 timeout=60)
        (_, before), = prometheus.query(generated)
        shape = ("--concurrency", "2", "--input-len", "32", "--output-len", "16", "--prompts", "6")
        done = thorfleet("bench", "inventory/sim.py", "--limit", "sim-02", "--engine", "qwen3-coder", *shape,
                         "--out", str(tmp_path / "bench"), cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        (record,) = json.loads((tmp_path / "bench" / "results.json").read_text())["records"]
        tokens = record["figures"]["total_output_tokens"]
        # The bench's own count against the server's counter, once Prometheus has scraped it again. The
        # bench also sends, uncounted in its figures, a warm-up (2 requests of 16 tokens) and up to 6
        # prompt-calibration requests of one token each (thorfleet/bench/run.py, prompts.py).
        uncounted = 2 * 16
        rise = wait_for("the bench's tokens in Prometheus", lambda: (
            (now := prometheus.query(generated)[0][1] - before) >= tokens + uncounted and now), timeout=30)
        assert tokens + uncounted <= rise <= tokens + uncounted + 6, (tokens, rise)

        ssh(fresh_lab[1], "sudo systemctl stop thorfleet-gpt-oss-120b")
        try:
            firing = wait_for("EngineDown firing", lambda: [a for a in prometheus.alerts() if a["labels"]["alertname"] == "EngineDown"
                                                          and a["state"] == "firing"], timeout=90)
            assert [(a["labels"]["unit"], a["labels"]["engine"]) for a in firing] == [("sim-02", "gpt-oss-120b")]
            status = thorfleet("status", "inventory/sim.py", cwd=ROOT, timeout=120)
        finally:
            ssh(fresh_lab[1], "sudo systemctl start thorfleet-gpt-oss-120b")
    assert status.returncode == 0, status.stdout + status.stderr
    text = status.stdout
    for unit in ("sim-01", "sim-02", "sim-03"):
        assert re.search(rf"{unit} .*up .*MAXN .*locked .*GB", text), text
    assert re.search(r"gpt-oss-120b .*llama-server .*DOWN", text), text
    coder = re.search(r"qwen3-coder .*llama-server .*up .* (\d+\.\d) .* (\d+\.\d)", text)
    assert coder and float(coder.group(2)) > 0, text  # generated tok/s over the last minute, from the bench
    for engine in ("qwen3-8b", "whisper", "qwen3-vllm", "qwen3-sglang", *(f"on-demand/{m}" for m in ROUTER_MODELS)):
        assert engine in text
