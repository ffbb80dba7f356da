"""A new engine kind is one class (docs/architecture.md, "Add an engine kind"): a throwaway kind, written
to a temporary module of its own, goes through every renderer that knows kinds — its command line, the
alert rules, the dashboards, the configuration reference, the lab's stand-in tags and the memory plan —
without a change anywhere else."""

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import require_tool
from thorfleet.core.render import render_template
from thorfleet.docs import kind_section
from thorfleet.fleet.schema import HostConfig
from thorfleet.roles.engines.commands import DOCKER, engine_argv
from thorfleet.roles.engines.memory import GiB
from thorfleet.roles.monitoring.config import MonitoringConfig
from thorfleet.roles.monitoring.dashboards import dashboards

KIND = '''
"""mistral.rs in its container: a kind thorfleet does not ship."""
from typing import ClassVar, Literal

from thorfleet.core.fleet import CHAT, EngineMetrics
from thorfleet.roles.engines.config import Launch, LLMContainer


class MistralRs(LLMContainer):
    """mistral.rs's OpenAI-compatible server."""

    kind: Literal["mistralrs"]
    entry_command: ClassVar[tuple[str, ...]] = ("mistralrs-server",)
    memory_flag: ClassVar[str] = "--gpu-memory-fraction"
    sampling_flag: ClassVar[str] = "--default-sampling"
    serves: ClassVar[str] = CHAT
    metrics: ClassVar[EngineMetrics] = EngineMetrics(
        "/metrics", "mistralrs_requests_running", "mistralrs_requests_waiting", "mistralrs_prompt_tokens_total",
        "mistralrs_generated_tokens_total", panels=(("mistral.rs: cache hits/s", "rate(mistralrs_cache_hits_total{engine}[1m])"),))

    def command_args(self, launch: Launch) -> list[str]:
        return ["--port", str(self.port), "--serve-ip", self.bind, "gguf", "-m", launch.model]
'''


@pytest.fixture(scope="module")
def kind(tmp_path_factory):
    path = tmp_path_factory.mktemp("kinds") / "throwaway_kind.py"
    path.write_text(KIND)
    spec = importlib.util.spec_from_file_location("throwaway_kind", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["throwaway_kind"] = module
    spec.loader.exec_module(module)
    yield module.MistralRs
    del sys.modules["throwaway_kind"]


def test_its_command_line_runs_the_image_with_the_kinds_own_arguments(kind):
    config = HostConfig.model_validate({"models": {"m": {"id": "org/model-GGUF", "file": "model.gguf"}}})
    engine = kind(kind="mistralrs", model="m", port=8100, image="ghcr.io/example/mistralrs:0.6", gpu_memory_utilization=0.5)
    docker, image, server = engine_argv(config, "mr", engine)
    assert docker[:2] == [DOCKER, "run"] and "--runtime" in docker
    assert image == ["ghcr.io/example/mistralrs:0.6"]
    assert server[:1] == ["mistralrs-server"] and server[server.index("--port") + 1] == "8100"
    assert server[server.index("-m") + 1].endswith("model.gguf")


def test_its_memory_share_counts_in_the_plan(kind):
    config = HostConfig.model_validate({})
    engine = kind(kind="mistralrs", model="m", port=8100, image="ghcr.io/example/mistralrs:0.6", gpu_memory_utilization=0.5)
    need = engine.memory_need(config, "mr", None)
    assert need.share == int(0.5 * config.memory.total_gib * GiB) and need.kind == "mistralrs"


def test_the_alert_rules_queue_on_its_metric_and_promtool_accepts_them(kind, tmp_path):
    rules = render_template("roles/monitoring/rules.yml.j2", monitoring=MonitoringConfig(), engine_metrics=[kind.metrics])
    assert "mistralrs_requests_waiting > 0" in rules
    require_tool("promtool", "prometheus")
    (tmp_path / "rules.yml").write_text(rules)
    checked = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboards_read_its_metrics_and_its_own_panel(kind):
    boards = {name: json.loads(text) for name, text in dashboards([kind.metrics]).items()}
    exprs = " ".join(t["expr"] for p in boards["engine.json"]["panels"] for t in p["targets"])
    assert "mistralrs_generated_tokens_total" in exprs and 'mistralrs_cache_hits_total{engine=~"$engine"}' in exprs
    assert "llamacpp" not in exprs  # only the kinds the fleet runs
    fleet = " ".join(t["expr"] for p in boards["fleet.json"]["panels"] for t in p["targets"])
    assert "mistralrs_requests_running" in fleet


def test_the_reference_documents_its_keys(kind):
    text = "\n".join(kind_section(kind))
    assert "of kind `mistralrs`" in text and "`engines.<name>.image`" in text and "gpu_memory_utilization" in text


def test_the_lab_gives_it_a_stand_in_tag(kind):
    pytest.importorskip("gguf")  # the lab extra
    from thorfleet.lab.container_images import standin_tags
    from thorfleet.roles.engines.kinds import KINDS

    assert "thorfleet-lab/mistralrs:standin" in standin_tags([*KINDS, kind])
