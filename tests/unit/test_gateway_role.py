"""The gateway role: routes worked out from the inventory, HAProxy's configuration rendered from them
(and accepted by `haproxy -c`), the configuration operation with fake facts, and its errors."""

import subprocess
from hashlib import sha256
from pathlib import Path

import pytest
import yaml

from thorfleet.fleet import ConfigError
from thorfleet.fleet import load_fleet
from thorfleet.roles.gateway.files import CONFIG, haproxy_cfg
from thorfleet.roles.gateway.routes import routes_at
from thorfleet.roles.gateway.operations import CANDIDATE, haproxy_config

from ..conftest import ROOT, require_tool
from .fake_host import run_operation

TEST_KEY = "test-key-0123"


def lab_fleet(root: Path = ROOT):
    return load_fleet(root / "inventory" / "lab.py", secrets=False)


def routes_of(fleet):
    (gateway,) = fleet.with_role("gateway")
    return {r.model: r for r in routes_at(fleet, gateway.name)}


def test_only_the_gateway_groups_hosts_apply_the_role():
    fleet = lab_fleet()
    assert [h.name for h in fleet.with_role("gateway")] == ["thor-03"]
    assert not any(f.dest == CONFIG for f in rendered_files_of(fleet, "thor-01"))


def rendered_files_of(fleet, host):
    from thorfleet.host_files import host_files
    return host_files(fleet.hosts[host], fleet)


def test_each_model_routes_to_every_unit_serving_it_that_the_gateway_can_reach():
    routes = routes_of(lab_fleet())
    assert sorted(routes) == ["gpt-oss", "gpt-oss-on-demand", "qwen3", "qwen3-coder", "qwen3-coder-on-demand", "qwen3-long",
                              "transcription"]
    assert {b.server: b.port for b in routes["qwen3-long"].backends} == {"thor-01.on-demand": 8002}  # a router's model
    qwen3 = {b.server: (b.address, b.port) for b in routes["qwen3"].reachable}
    # thor-01's engine listens on its LAN address; thor-03's are on the gateway's own host.
    assert qwen3 == {"thor-01.qwen3-8b": ("192.168.55.101", 8000), "thor-03.qwen3-vllm": ("127.0.0.1", 8000),
                     "thor-03.qwen3-sglang": ("127.0.0.1", 30000)}
    whisper = routes["transcription"].backends[0]
    assert whisper.address is None and "listens on 127.0.0.1 only" in whisper.why
    assert routes["qwen3"].key.env == "THORFLEET_API_KEY"


def test_the_rendered_configuration_is_valid_haproxy():
    require_tool("haproxy", "haproxy")
    fleet = lab_fleet()
    text = haproxy_cfg(fleet.hosts["thor-03"], fleet, lambda source: TEST_KEY)
    path = Path("/tmp/thorfleet-test-haproxy.cfg")
    path.write_text(text)
    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stderr.splitlines() if "WARNING" in line and "server state file" not in line]
    assert warnings == []
    assert "option http-no-delay" in text and "balance leastconn" in text and "json_query('$.model')" in text
    # The client's key at the endpoint and at /metrics, and the key sent to each of 6 routed models (3 of them thor-01's router's).
    assert text.count(f'"Bearer {TEST_KEY}"') == 8


def test_render_shows_where_the_keys_come_from_never_a_key(monkeypatch):
    monkeypatch.setenv("THORFLEET_API_KEY", TEST_KEY)
    (haproxy,) = [f for f in rendered_files_of(lab_fleet(), "thor-03") if f.dest == CONFIG]
    assert TEST_KEY not in haproxy.content and "<secret from environment variable THORFLEET_API_KEY>" in haproxy.content
    assert haproxy.mode == "640"


def _copy_with(project_copy: Path, host: str, extra: dict) -> Path:
    path = project_copy / "host_vars" / f"{host}.yml"
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    path.write_text(yaml.safe_dump({**(data or {}), **extra}))
    return project_copy


def test_engines_of_one_model_with_different_keys_are_refused_naming_the_key(project_copy):
    _copy_with(project_copy, "thor-03", {"engines": {"qwen3-vllm": {"api_key": {"env": "OTHER_KEY"}}}})
    with pytest.raises(ConfigError) as err:
        lab_fleet(project_copy)
    assert "engines.qwen3-vllm.api_key" in err.value.format() and "must share one api_key source" in err.value.format()


def test_a_gateway_exposed_without_a_key_is_refused(project_copy):
    _copy_with(project_copy, "thor-03", {"gateway": {"bind": "0.0.0.0", "api_key": None}})
    with pytest.raises(ConfigError) as err:
        lab_fleet(project_copy)
    assert "gateway.bind" in err.value.format() and "set api_key" in err.value.format()


def test_the_same_configuration_gives_no_commands():
    text = "global\n"
    commands, noops = run_operation(haproxy_config, {"FileSha256": sha256(text.encode()).hexdigest()}, text)
    assert commands == [] and noops == [f"{CONFIG} already routes the fleet as rendered"]


def test_a_new_configuration_is_checked_then_installed_with_a_backup_and_restored_if_haproxy_refuses_it():
    commands, _ = run_operation(haproxy_config, {"FileSha256": "old"}, "global\n")
    shown = [c for c in commands if isinstance(c, str)]
    check = next(i for i, c in enumerate(shown) if f"haproxy -c -q -f {CANDIDATE}" in c)
    install = next(i for i, c in enumerate(shown) if f"mv {CANDIDATE} {CONFIG}" in c)
    assert check < install
    assert "thorfleet-backup" in shown[install] and "show servers state" in shown[install]
    assert 'cp -a "$backup"' in shown[install]  # the restore when the reload fails
    assert ("/tmp/pyinfra-upload", "global\n") in commands  # staged privately, never on a command line


def test_during_a_key_rotation_the_gateway_accepts_the_new_key_and_the_previous_one(project_copy):
    """docs/gateway.md's rotation: the new key in `api_key`, the old one in `previous_api_keys`, valid HAProxy."""
    require_tool("haproxy", "haproxy")
    _copy_with(project_copy, "thor-03", {"gateway": {"bind": "0.0.0.0", "api_key": {"env": "NEW_KEY"},
                                                     "previous_api_keys": [{"env": "THORFLEET_API_KEY"}]}})
    fleet = lab_fleet(project_copy)
    keys = {"NEW_KEY": "new-key-456", "THORFLEET_API_KEY": TEST_KEY}
    text = haproxy_cfg(fleet.hosts["thor-03"], fleet, lambda source: keys[source.env])
    accepted = [line for line in text.splitlines() if "return status 401" in line]
    assert len(accepted) == 2 and all(line.endswith(f'-m str "Bearer new-key-456" "Bearer {TEST_KEY}" }}') for line in accepted)
    path = project_copy / "haproxy.cfg"
    path.write_text(text)
    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_previous_keys_without_a_new_one_are_refused(project_copy):
    _copy_with(project_copy, "thor-03", {"gateway": {"bind": "127.0.0.1", "api_key": None,
                                                     "previous_api_keys": [{"env": "THORFLEET_API_KEY"}]}})
    with pytest.raises(ConfigError, match="previous_api_keys are accepted besides api_key: set api_key"):
        lab_fleet(project_copy)
