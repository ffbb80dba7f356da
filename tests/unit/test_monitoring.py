"""Observability: the scrape jobs worked out from the inventory, Prometheus's configuration and alert
rules (accepted by promtool), node exporter's basic auth, the Prometheus folder operation with fake
facts, the Jetson collector run against stand-in commands, and the dashboards."""

import json
import os
import re
import shutil
import subprocess
import sys
from hashlib import sha256
from pathlib import Path

import bcrypt
import pytest

from thorfleet.fleet import ConfigError
from thorfleet.core.paths import PROMETHEUS_DIR
from thorfleet.core.web_auth import password_hash
from thorfleet.fleet import load_fleet
from thorfleet.roles.engines.kinds import KINDS, kind_name
from thorfleet.roles.monitoring.files import folder_files
from thorfleet.roles.monitoring.targets import scrape_jobs, unscraped
from thorfleet.roles.monitoring.operations import CANDIDATE, prometheus_folder
from thorfleet.roles.unit_metrics.files import plain_files

from ..conftest import ROOT, require_tool
from .fake_host import run_operation

TEST_KEY = "test-key-0123"


def lab_fleet(root: Path = ROOT):
    return load_fleet(root / "inventory" / "lab.py", secrets=False)


def jobs_of(fleet):
    (monitor,) = fleet.with_role("monitoring")
    return monitor, {job.name: job for job in scrape_jobs(fleet, monitor.name)}


def test_prometheus_runs_on_the_gateways_host_when_no_monitoring_group_is_declared():
    fleet = lab_fleet()
    monitor, jobs = jobs_of(fleet)
    assert monitor.name == "thor-03"
    assert sorted(jobs) == ["gateway", "llama-router", "llama-server", "node", "sglang", "vllm"]
    targets = {t["labels"]["unit"]: t["targets"] for t in jobs["node"].targets}
    # Other units over the LAN, its own node exporter over loopback.
    assert targets == {"thor-01": ["192.168.55.101:9100"], "thor-02": ["192.168.55.102:9100"], "thor-03": ["127.0.0.1:9100"]}
    llama = {(t["labels"]["unit"], t["labels"]["engine"]) for t in jobs["llama-server"].targets}
    assert llama == {("thor-01", "qwen3-8b"), ("thor-02", "qwen3-coder"), ("thor-02", "gpt-oss-120b")}
    # thor-01's router: each of its models a target of its own, asked for by name and never loaded for a scrape.
    assert sorted((t["targets"][0], t["labels"]["__param_model"], t["labels"]["__param_autoload"]) for t in jobs["llama-router"].targets) == [
        ("192.168.55.101:8002", m, "false") for m in ("gpt-oss-on-demand", "qwen3-coder-on-demand", "qwen3-long")]
    assert jobs["llama-server"].bearer.env == "THORFLEET_API_KEY" and jobs["node"].basic.env == "THORFLEET_METRICS_PASSWORD"
    # whisper-server has no metrics; an engine on loopback elsewhere is listed, not scraped.
    assert all(u.what != "engine whisper" for u in unscraped(fleet, monitor.name))


def test_a_declared_monitoring_group_moves_prometheus_and_a_loopback_exporter_is_listed_not_scraped(tmp_path):
    shutil.copytree(ROOT / "group_vars", tmp_path / "group_vars")
    shutil.copytree(ROOT / "host_vars", tmp_path / "host_vars")
    shutil.copytree(ROOT / "inventory", tmp_path / "inventory")
    text = (ROOT / "inventory" / "lab.py").read_text().replace('gateway = ["thor-03"]', 'gateway = ["thor-03"]\nmonitoring = ["thor-01"]')
    (tmp_path / "inventory" / "lab.py").write_text(text)
    (tmp_path / "host_vars" / "thor-02.yml").write_text("unit_metrics: {bind: 127.0.0.1}\n")
    fleet = load_fleet(tmp_path / "inventory" / "lab.py", secrets=False)
    monitor, jobs = jobs_of(fleet)
    assert monitor.name == "thor-01"
    assert {t["labels"]["unit"] for t in jobs["node"].targets} == {"thor-01", "thor-03"}
    missing = {(u.unit, u.what): u.why for u in unscraped(fleet, monitor.name)}
    assert "listens on 127.0.0.1 only" in missing[("thor-02", "node exporter")]


def test_an_exposed_exporter_or_prometheus_without_a_password_is_refused(tmp_path):
    shutil.copytree(ROOT / "group_vars", tmp_path / "group_vars")
    shutil.copytree(ROOT / "inventory", tmp_path / "inventory")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "thor-01.yml").write_text("unit_metrics: {bind: 0.0.0.0, password: null}\n")
    (tmp_path / "host_vars" / "thor-03.yml").write_text("monitoring: {bind: 0.0.0.0}\n")
    with pytest.raises(ConfigError) as err:
        load_fleet(tmp_path / "inventory" / "lab.py", secrets=False)
    text = err.value.format()
    assert "unit_metrics.bind" in text and "monitoring.bind" in text and "set password" in text


def rendered_folder(tmp_path: Path) -> Path:
    fleet = lab_fleet()
    folder = tmp_path / "prometheus"
    for path, content in folder_files(fleet.hosts["thor-03"], fleet, lambda source: TEST_KEY).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(content)
    return folder


def test_promtool_accepts_the_rendered_configuration_and_rules(tmp_path):
    require_tool("promtool", "prometheus")
    folder = rendered_folder(tmp_path)
    for check in (["check", "config", str(folder / "prometheus.yml")], ["check", "rules", str(folder / "rules.yml")]):
        done = subprocess.run(["promtool", *check], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    rules = (folder / "rules.yml").read_text()
    for alert in ("EngineDown", "UnitUnreachable", "GatewayDown", "ClocksUnlocked", "UnitMemoryNearlyFull", "RequestsQueueing"):
        assert f"alert: {alert}" in rules
    used = {host.config.engines[e].kind for host in lab_fleet().hosts.values() for e in host.config.engines}
    used_metrics = {kind.metrics for kind in KINDS if kind_name(kind) in used}
    for kind in KINDS:
        if kind.metrics and kind.metrics in used_metrics:  # the queueing alert, per kind the fleet runs, from its own names
            assert kind.metrics.waiting in rules
        elif kind.metrics:
            assert kind.metrics.waiting not in rules
    assert (folder / "keys" / "llama-server").read_text() == TEST_KEY + "\n"


def test_render_shows_where_each_key_comes_from_and_never_a_key(tmp_path):
    from thorfleet.host_files import host_files
    fleet = lab_fleet()
    files = {f.dest: f for f in host_files(fleet.hosts["thor-03"], fleet)}
    key = files[f"{PROMETHEUS_DIR}/keys/llama-server"]
    assert key.mode == "640" and key.content == "<secret from environment variable THORFLEET_API_KEY>\n"
    assert "THORFLEET_METRICS_PASSWORD" in files["/etc/prometheus/node-exporter-web.yml"].content


def test_the_web_config_holds_a_bcrypt_hash_that_is_the_same_at_every_render():
    first, second = password_hash("s3cret"), password_hash("s3cret")
    assert first == second and first != password_hash("other")
    assert bcrypt.checkpw(b"s3cret", first.encode()) and not bcrypt.checkpw(b"s3cre", first.encode())


def test_the_prometheus_folder_is_left_alone_when_it_is_as_rendered():
    files = {"prometheus.yml": "a\n", "targets/node.json": "[]\n"}
    facts = {"FolderSha256": {path: sha256(content.encode()).hexdigest() for path, content in files.items()}}
    commands, noops = run_operation(prometheus_folder, facts, files)
    assert commands == [] and noops == [f"{PROMETHEUS_DIR} already scrapes the fleet as rendered (2 files)"]


def test_a_new_prometheus_folder_is_checked_then_swapped_whole_and_restored_if_prometheus_refuses_it():
    files = {"prometheus.yml": "a\n", "keys/vllm": "k\n"}
    commands, _ = run_operation(prometheus_folder, {"FolderSha256": {"prometheus.yml": "old"}}, files)
    shown = [c for c in commands if isinstance(c, str)]
    check = next(i for i, c in enumerate(shown) if f"promtool check config {CANDIDATE}/prometheus.yml" in c)
    swap = next(i for i, c in enumerate(shown) if f"mv {CANDIDATE} {PROMETHEUS_DIR}" in c)
    assert check < swap and "systemctl reload prometheus" in shown[swap] and "previous one is back" in shown[swap]
    assert ("/tmp/pyinfra-upload", "k\n") in commands  # keys staged privately, never on a command line
    assert not any("k\n" in c for c in shown)


FAKE_TOOLS = {
    "nvpmodel": "echo 'NV Power Mode: MAXN'; echo 0",
    "jetson_clocks": "echo 'cpu0: Online=1 Governor=schedutil MinFreq=2601000 MaxFreq=2601000 CurrentFreq=2601000'; "
                     "echo 'GPU MinFreq=306000000 MaxFreq=1575000000 CurrentFreq=306000000'",
    "nvidia-smi": "echo '37, 41'",
}


def test_the_jetson_collector_writes_what_the_unit_reports_and_marks_what_it_lacks(tmp_path):
    config = lab_fleet().hosts["thor-01"].config
    installed = tmp_path / "collector"
    installed.mkdir()
    for rendered in plain_files(config):
        if rendered.dest.endswith(".py"):
            (installed / Path(rendered.dest).name).write_text(rendered.content)
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, script in FAKE_TOOLS.items():
        (tools / name).write_text(f"#!/bin/sh\n{script}\n")
        (tools / name).chmod(0o755)
    out = tmp_path / "textfile"
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, str(installed / "jetson_textfile.py"), str(out)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = (out / "thorfleet_jetson.prom").read_text()
    assert 'thorfleet_jetson_power_mode{mode="MAXN"} 0' in text
    assert "thorfleet_jetson_clocks_locked 0" in text  # the GPU's minimum is below its maximum
    assert "thorfleet_jetson_gpu_utilization_ratio 0.37" in text and "thorfleet_jetson_gpu_temperature_celsius 41.0" in text
    assert 'thorfleet_jetson_reading_ok{source="gpu_devfreq"} ' in text  # 1 on a Thor, 0 on this machine: said, not guessed
    require_tool("promtool", "prometheus")
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_lab_stand_ins_expose_the_metric_names_of_the_engines_they_stand_in_for():
    text = (ROOT / "thorfleet" / "lab" / "standins" / "openai_standin.py").read_text()
    for kind in KINDS:
        if kind.metrics and getattr(kind, "program", None) != "llama-server":  # the real program in the lab
            names = (kind.metrics.processing, kind.metrics.waiting, kind.metrics.prompt_tokens, kind.metrics.generated_tokens)
            assert repr(names).replace("'", '"') in text


class FakePrometheus:
    """Answers the queries `thorfleet status` makes with what a Prometheus of the lab's fleet holds."""

    def __init__(self, answers: dict):
        self.answers, self.asked = answers, []

    def query(self, expr: str):
        self.asked.append(expr)
        return self.answers.get(expr, [])


def test_status_shows_every_unit_and_engine_with_its_figures_and_says_what_it_does_not_know():
    from rich.console import Console
    from thorfleet.status import snapshot, tables
    fleet = lab_fleet()
    answers = {
        'up{thorfleet="unit"}': [({"unit": "thor-01"}, 1.0), ({"unit": "thor-02"}, 0.0)],
        "thorfleet_jetson_power_mode": [({"unit": "thor-01", "mode": "MAXN"}, 0.0)],
        "thorfleet_jetson_clocks_locked": [({"unit": "thor-01"}, 1.0)],
        "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes": [({"unit": "thor-01"}, 40e9)],
        "node_memory_MemTotal_bytes": [({"unit": "thor-01"}, 128e9)],
        'up{thorfleet="engine"}': [({"unit": "thor-01", "engine": "qwen3-8b"}, 1.0)],
        "llamacpp:requests_processing": [({"unit": "thor-01", "engine": "qwen3-8b"}, 3.0)],
        "rate(llamacpp:tokens_predicted_total[1m])": [({"unit": "thor-01", "engine": "qwen3-8b"}, 271.9)],
    }
    prometheus = FakePrometheus(answers)
    found = snapshot(prometheus, fleet)
    assert found.units["thor-01"] == {"up": 1.0, "mode": "MAXN", "clocks": 1.0, "used": 40e9, "total": 128e9}
    assert found.engines[("thor-01", "qwen3-8b")] | {} == {"kind": "llama-server", "up": 1.0, "processing": 3.0, "generated": 271.9}
    assert "rate(vllm:generation_tokens_total[1m])" in prometheus.asked  # every kind's own names
    console = Console(width=200, record=True)
    for table in tables(found, "Prometheus on thor-03"):
        console.print(table)
    text = console.export_text()
    assert set(fleet.hosts) <= set(re.findall(r"thor-0\d", text))
    assert re.search(r"thor-01 .*up .*MAXN .*locked .*40\.0 of 128 GB", text)
    assert re.search(r"thor-02 .*DOWN", text)
    assert re.search(r"qwen3-8b .*llama-server .*up .*3 .*271\.9", text)
    assert re.search(r"qwen3-coder .*not scraped", text)


# Metric names the lab's Prometheus held after a deploy and a bench (GET /api/v1/label/__name__/values).
LAB_NAMES = ROOT / "tests" / "data" / "metrics" / "lab-metric-names.txt"
# Series a lab unit cannot have, with where they come from on a Thor.
NOT_IN_THE_LAB = {
    "node_thermal_zone_temp": "node exporter's thermal_zone collector (/sys/class/thermal), absent in a container",
    "thorfleet_jetson_gpu_frequency_hertz": "the Jetson collector's devfreq reading (/sys/class/devfreq/gpu-gpc-0)",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "or", "and", "unless", "bool", "group_left", "group_right"}


def metric_names(expr: str) -> set[str]:
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)  # label matchers (and their strings), ranges
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", bare)  # grouping labels
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\()(?![A-Za-z0-9_:])", bare))
    return {n for n in names if n not in PROMQL_WORDS}


def test_metric_names_are_read_out_of_promql():
    assert metric_names('sum by (proxy) (rate(haproxy_backend_http_requests_total{thorfleet="gateway"}[1m]))') == \
        {"haproxy_backend_http_requests_total"}
    assert metric_names("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes") == \
        {"node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"}
    assert metric_names("count(ALERTS{alertstate=\"firing\"}) or vector(0)") == {"ALERTS"}


@pytest.mark.parametrize("name", ["fleet", "unit", "engine"])
def test_each_dashboard_is_import_ready_json_and_reads_only_metrics_that_exist(name, tmp_path):
    board = json.loads((rendered_folder(tmp_path) / "dashboards" / f"{name}.json").read_text())
    assert board["uid"] == f"thorfleet-{name}" and board["panels"]
    assert board["templating"]["list"][0] == {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
    known = set(LAB_NAMES.read_text().split()) | {"ALERTS"} | set(NOT_IN_THE_LAB)
    known |= {n for kind in KINDS if kind.metrics for n in vars(kind.metrics).values()}  # vLLM's and SGLang's own names
    used = {n for panel in board["panels"] for target in panel["targets"] for n in metric_names(target["expr"])}
    assert used and used <= known, used - known
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
