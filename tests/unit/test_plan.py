"""`thorfleet plan`: pyinfra's JSON plan read per unit, and the exit status that says what it found."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from thorfleet.plan import read_plan

from ..conftest import ROOT

THORFLEET = Path(sys.executable).parent / "thorfleet"
# What `pyinfra INVENTORY deploy.py --dry --json` prints (pyinfra_cli/prints.py, build_plan_json), cut down.
PAYLOAD = {"plan": [
    {"op_hash": "a", "name": "engines | Engine qwen3-8b (llama-server)", "names": [], "args": [],
     "hosts_with_change": ["thor-01"], "hosts_with_conditional_change": []},
    {"op_hash": "b", "name": "engines | Restart thorfleet-qwen3-8b", "names": [], "args": [],
     "hosts_with_change": [], "hosts_with_conditional_change": ["thor-01"]},
    {"op_hash": "c", "name": "power | Power mode", "names": [], "args": [],
     "hosts_with_change": [], "hosts_with_conditional_change": []},
], "results": None}


def test_a_units_plan_is_its_operations_with_a_change_and_nothing_else():
    assert read_plan(PAYLOAD, "thor-01").changes == ["engines | Engine qwen3-8b (llama-server)"]
    assert read_plan(PAYLOAD, "thor-01").changed
    assert read_plan(PAYLOAD, "thor-02").changes == [] and not read_plan(PAYLOAD, "thor-02").changed


def test_what_the_operations_say_they_will_do_is_read_back_per_unit():
    """The lines operations say before their first command (core/will.py), as pyinfra prints them:
    each goes to its own unit's plan, colours removed."""
    import json
    from types import SimpleNamespace

    from thorfleet.plan import _pyinfra_plan

    said = ("    [thor-01] Connected\n    [thor-02] Connected\n"
            "    \x1b[1m[thor-01]\x1b[0m \x1b[36mwill download 4.70 GiB of model qwen3-8b-gguf (1 of 1 files to fetch or finish)\x1b[0m\n"
            "    [thor-02]   will install apt packages: cmake, ccache\n    [thor-02] noop: all 3 files are current\n")
    printed = subprocess.Popen(["sh", "-c", 'printf "%s" "$1"; printf "%s" "$2" >&2', "sh", json.dumps(PAYLOAD), said],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # as pyinfra's run prints
    fleet = SimpleNamespace(inventory="inventory/lab.py", hosts={"thor-01": None, "thor-02": None})
    plans, _ = _pyinfra_plan(fleet, ["thor-01", "thor-02"], printed)
    assert plans["thor-01"].will == ["download 4.70 GiB of model qwen3-8b-gguf (1 of 1 files to fetch or finish)"]
    assert plans["thor-02"].will == ["install apt packages: cmake, ccache"]


def run_plan(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "THORFLEET_API_KEY": "sk-plan", "THORFLEET_METRICS_PASSWORD": "pw"}
    return subprocess.run([str(THORFLEET), "plan", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_units_that_cannot_be_reached_make_it_an_error_naming_each(project_copy):
    shutil.copy(ROOT / "deploy.py", project_copy)
    result = run_plan(project_copy, "inventory/lab.py", "--limit", "thor-01,thor-02")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "0 of 2 unit(s) would change" in result.stdout
    for host in ("thor-01", "thor-02"):
        assert re.search(rf"^error: {host}: could not connect \(.*127\.0\.0\.10\d", result.stderr, re.M), result.stderr
    assert "thor-03" not in result.stdout + result.stderr.split("error: thor-01")[1]


def test_a_broken_config_or_no_deploy_is_an_error_not_a_change(project_copy):
    assert run_plan(project_copy, "inventory/lab.py").returncode == 3  # no deploy.py in the folder
    shutil.copy(ROOT / "deploy.py", project_copy)
    (project_copy / "host_vars" / "thor-01.yml").write_text("power: {clock: locked}\n")
    result = run_plan(project_copy, "inventory/lab.py")
    assert result.returncode == 3 and "host_vars/thor-01.yml: power.clock: unknown key" in result.stderr, result.stderr


class FakeUnit:
    """An SSH client whose unit holds `files` (path -> content); records what was read."""

    def __init__(self, files: dict[str, str], engines: dict[str, tuple[bool, dict | None]] | None = None):
        self.files, self.commands = files, []
        self.engines = engines or {}  # engine -> (running, the fingerprint it recorded at its last start)

    def exec_command(self, command: str, timeout: float):
        import json
        import shlex

        self.commands.append(command)
        words = shlex.split(command)
        if words[0] == "systemctl":  # is-active UNIT || echo stopped; sudo -n cat RECORD
            name = words[3].removeprefix("thorfleet-").removesuffix(".service")
            running, record = self.engines.get(name, (False, None))
            content, status = ("" if running else "stopped\n") + (json.dumps(record) if record else ""), 0
        else:  # sudo -n sh -c SCRIPT sh PATH...: each file's size and content, or -1
            assert words[:4] == ["sudo", "-n", "sh", "-c"], command
            content, status = "".join(f"{len(self.files[p].encode())}\n{self.files[p]}" if p in self.files else "-1\n"
                                      for p in words[6:]), 0

        class Out:
            channel = type("Channel", (), {"recv_exit_status": staticmethod(lambda: status)})

            @staticmethod
            def read() -> bytes:
                return content.encode()

        return None, Out, None

    def close(self) -> None:
        pass


@pytest.fixture
def hub_lists_nothing(monkeypatch):
    """The engines' fingerprint asks the hub for each model's files: here it answers an empty list."""
    monkeypatch.setattr("thorfleet.roles.models.fleet.model_files", lambda entry, store: [])


def test_file_diffs_show_what_differs_and_never_read_a_file_that_holds_a_secret(project_copy, monkeypatch, hub_lists_nothing):
    from thorfleet.fleet import load_fleet
    from thorfleet.host_files import host_files
    from thorfleet.plan import file_diffs

    monkeypatch.setenv("THORFLEET_API_KEY", "sk-plan-secret")
    monkeypatch.setenv("THORFLEET_METRICS_PASSWORD", "pw-plan-secret")
    fleet = load_fleet(project_copy / "inventory" / "lab.py")
    rendered = {f.dest: f.content for f in host_files(fleet.hosts["thor-03"], fleet) if not f.merged}
    secret_files = [dest for dest, content in rendered.items() if "<secret from " in content]
    assert "/etc/haproxy/haproxy.cfg" in secret_files
    plain = sorted(dest for dest in rendered if dest not in secret_files)
    changed, missing = plain[0], plain[1]
    unit = FakeUnit({dest: content for dest, content in rendered.items() if dest != missing})
    unit.files[changed] = rendered[changed].replace("\n", "\n# edited by hand\n", 1)
    monkeypatch.setattr("thorfleet.plan.ssh_client", lambda host: unit)
    diffs, _ = file_diffs(fleet, "thor-03")
    assert sorted(diffs) == sorted([changed, missing])
    assert "-# edited by hand" in diffs[changed] and f"+++ deploy:{changed}" in diffs[changed]
    assert diffs[missing].startswith("--- /dev/null")
    assert not [c for c in unit.commands for dest in secret_files if dest in c]
    assert not [d for d in diffs.values() if "plan-secret" in d]


def test_the_plan_names_each_engine_the_deploy_would_restart_and_the_field_that_forces_it(project_copy, monkeypatch,
                                                                                        hub_lists_nothing):
    from thorfleet.fleet import load_fleet
    from thorfleet.host_files import host_files
    from thorfleet.plan import file_diffs
    from thorfleet.roles.engines.deploy import engine_fingerprint
    from thorfleet.roles.engines.files import engine_files

    monkeypatch.setenv("THORFLEET_API_KEY", "sk-plan-secret")
    fleet = load_fleet(project_copy / "inventory" / "lab.py")
    host = fleet.hosts["thor-01"]
    wanted = {name: engine_fingerprint(host, fleet, engine, engine_files(host.config, name, engine),
                                       engine.api_key.read() if engine.api_key else None)
              for name, engine in host.config.engines.items()}
    assert sorted(wanted) == ["on-demand", "qwen3-8b", "whisper"]
    files = {f.dest: f.content for f in host_files(host, fleet) if not f.merged}
    unit = FakeUnit(files, {"qwen3-8b": (True, {**wanted["qwen3-8b"], "build": "0c1e57098bba-old", "env": "0123"}),
                            "whisper": (False, wanted["whisper"]),
                            "on-demand": (True, {**wanted["on-demand"], "preset": "0123"})})
    monkeypatch.setattr("thorfleet.plan.ssh_client", lambda host: unit)
    _, restarts = file_diffs(fleet, "thor-01")
    assert restarts == [f"qwen3-8b: its env file, build 0c1e57098bba-old → {wanted['qwen3-8b']['build']}", "whisper: not running",
                        "on-demand: its preset file (reloaded, not restarted: only its changed models unload)"]
    unit.engines = {name: (True, record) for name, record in wanted.items()}
    assert file_diffs(fleet, "thor-01")[1] == []
    unit.engines = {}
    assert file_diffs(fleet, "thor-01")[1] == ["qwen3-8b: not started yet", "whisper: not started yet", "on-demand: not started yet"]


def test_the_units_files_are_read_in_one_command_whatever_they_hold(tmp_path):
    """plan.read_files' script run by a real shell (without its `sudo -n`): sizes then contents."""
    import shlex

    from thorfleet.plan import read_files

    files = {"plain": "a\nb\n", "no-newline": "x = 1", "empty": "", "unicode": "température: 25 °C\n", "lines": "-1\n42\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "unreadable").mkdir()

    class LocalShell:
        def exec_command(self, command: str, timeout: float):
            words = shlex.split(command)
            assert words[:2] == ["sudo", "-n"]
            ran = subprocess.run(words[2:], capture_output=True, timeout=timeout)
            return None, type("Out", (), {"read": staticmethod(lambda: ran.stdout), "channel": type(
                "Channel", (), {"recv_exit_status": staticmethod(lambda: ran.returncode)})}), None

    paths = [str(tmp_path / name) for name in files] + [str(tmp_path / "missing")]
    assert read_files(LocalShell(), paths) == {**{str(tmp_path / n): t for n, t in files.items()}, str(tmp_path / "missing"): None}
    assert read_files(LocalShell(), [str(tmp_path / "plain"), str(tmp_path / "unreadable")]) == 1
