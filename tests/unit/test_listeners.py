"""One table of what listens on each unit (thorfleet/fleet/listeners.py): clashes across roles name
both keys and their files; a container may take a port below 1024, an unprivileged service may not."""

import pytest
from click.testing import CliRunner

from thorfleet.commands import main
from thorfleet.fleet import ConfigError

from .helpers import fleet_of

MODELS = {"models": {"m": {"id": "Qwen/Qwen3-8B-GGUF", "file": "a.gguf"}}}
GATEWAY_UNIT = {"llm": ["thor-01"], "gateway": ["thor-01"]}


@pytest.fixture(autouse=True)
def in_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files are named relative to where the command runs


def refusal(tmp_path, files, groups=None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        fleet_of(tmp_path, files, groups)
    return [str(issue) for issue in caught.value.issues]


def test_a_clash_across_roles_names_both_keys_and_files(tmp_path):
    issues = refusal(tmp_path, {"group_vars/all.yml": MODELS,
                                "group_vars/llm.yml": {"engines": {"e": {"kind": "llama-server", "model": "m", "port": 8100}}},
                                "host_vars/thor-01.yml": {"gateway": {"port": 8100, "metrics_port": 9090}}}, GATEWAY_UNIT)
    assert issues == [
        "host_vars/thor-01.yml: gateway.port: port 8100 on 127.0.0.1 is already used by engine 'e' (engines.e.port, "
        "group_vars/llm.yml)  [thor-01]",
        "host_vars/thor-01.yml: gateway.metrics_port: port 9090 on 127.0.0.1 is already used by Prometheus "
        "(monitoring.port, its default)  [thor-01]",
    ]


def test_loopback_and_another_address_do_not_clash_but_every_address_does(tmp_path):
    engines = {"a": {"kind": "llama-server", "model": "m", "port": 8000},
               "b": {"kind": "llama-server", "model": "m", "port": 8000, "bind": "192.0.2.10", "allow_unauthenticated": True}}
    fleet = fleet_of(tmp_path, {"group_vars/all.yml": MODELS, "group_vars/llm.yml": {"engines": engines}})
    assert set(fleet.hosts["thor-01"].config.engines) == {"a", "b"}
    engines["b"]["bind"] = "0.0.0.0"
    assert refusal(tmp_path, {"group_vars/llm.yml": {"engines": engines}}) == [
        "group_vars/llm.yml: engines.b.port: port 8000 on 0.0.0.0 is already used by engine 'a' (engines.a.port, "
        "group_vars/llm.yml)  [thor-01]"]


def test_a_container_engine_may_take_a_port_below_1024(tmp_path):
    engine = {"kind": "vllm", "model": "m", "port": 80, "image": "vllm/vllm-openai:v0.10.0"}
    fleet = fleet_of(tmp_path, {"group_vars/all.yml": MODELS, "group_vars/llm.yml": {"engines": {"v": engine}}})
    assert fleet.hosts["thor-01"].config.engines["v"].port == 80


def test_hosts_listeners_shows_every_listener_of_every_unit(project_copy, monkeypatch):
    monkeypatch.setenv("THORFLEET_API_KEY", "sk-test")
    monkeypatch.setenv("THORFLEET_METRICS_PASSWORD", "pw-test")
    result = CliRunner().invoke(main, ["hosts", str(project_copy / "inventory" / "lab.py"), "--listeners"], terminal_width=200)
    assert result.exit_code == 0, result.output
    rows = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    for row in ("thor-01 0.0.0.0:22 sshd (on every unit) -", "thor-01 0.0.0.0:8000 engine 'qwen3-8b' engines.qwen3-8b.port",
                "thor-03 0.0.0.0:8405 the gateway's metrics gateway.metrics_port", "thor-03 127.0.0.1:9090 Prometheus monitoring.port"):
        assert row in rows, result.output
