"""Every command that reaches a unit, against a unit where nothing listens and one that accepts and
never speaks; commands given corrupt state or result files, or a project path with a file in the
way. Each ends with a non-zero exit, one line naming what failed and why, no traceback, and no
later than the SSH timeouts allow. The commands run as users run them (the installed script, in
parallel: most of the time is the silent unit's timeout)."""

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ..conftest import ROOT

THORFLEET = Path(sys.executable).parent / "thorfleet"
TIMEOUT_S = 2  # the inventory's ssh_paramiko_connect_kwargs.timeout (pyinfra's key; 10 s when unset)
REFUSED = "cannot be reached over SSH: nothing accepts connections there (refused)"
SILENT = f"cannot be reached over SSH: it accepts connections but did not speak SSH within {TIMEOUT_S} s"
# Commands that reach units, and the unit each names first when it cannot.
REACHING = {
    "verify": (["verify", "inventory/lab.py"], "thor-01"),
    "endpoints": (["endpoints", "inventory/lab.py"], "thor-03"),
    "status": (["status", "inventory/lab.py"], "thor-03"),
    "bench": (["bench", "run", "inventory/lab.py", "--limit", "thor-01", "--prompts", "1"], "thor-01"),
    "tune": (["tune", "inventory/lab.py", "--host", "thor-01", "--engine", "qwen3-8b"], "thor-01"),
    "rollout": (["rollout", "inventory/lab.py"], "thor-03"),
    "validate --against": (["validate", "inventory/lab.py", "--against", "thor-01"], "thor-01"),
}
STATE = json.dumps({"inventory": "x", "batches": [["thor-01"]], "max_fail": 0, "units": {"thor-01": {"host": "thor-01", "state": "done"}}})
# Files that are not what a command expects: (files to write, args, exit status, the line).
CORRUPT = {
    "truncated rollout state": ({".thorfleet/rollout-lab.json": STATE[:60]}, ["rollout", "inventory/lab.py", "--resume"], 2,
                                ".thorfleet/rollout-lab.json: is not the state of a thorfleet rollout (remove it to start a new "
                                "rollout): Invalid JSON: EOF while parsing"),
    "rollout state of another shape": ({".thorfleet/rollout-lab.json": STATE.replace('"done"', '"DONE"')}, ["rollout", "inventory/lab.py", "--resume"], 2,
                                       "units.thor-01.state: Input should be 'pending', 'done', 'failed', 'skipped' or 'unchanged'"),
    "rollout state naming a host no longer there": (
        {".thorfleet/rollout-lab.json": STATE.replace("thor-01", "thor-09")}, ["rollout", "inventory/lab.py", "--resume"], 2,
        "names thor-09, no longer in inventory/lab.py: remove the file to start a new rollout"),
    "bench compare of files that are not results": (
        {"a.json": json.dumps({"runs": []}), "b.json": "not json"}, ["bench", "compare", "a.json", "b.json"], 2,
        "a.json: is not the results of a thorfleet bench run: records: Field required"),
    "bench compare of a record without its shape": (
        {"a.json": json.dumps({"records": [{"host": "h", "engine": "e", "figures": {"output_throughput": 1}}]})},
        ["bench", "compare", "a.json", "a.json"], 2, "records.0: Value error, a measured record's shape needs concurrency"),
    "init where a file stands for a folder": ({"new/inventory": ""}, ["init", "new"], 2,
                                              "nothing written: new/inventory is a file where a folder must go"),
    "status with its secret unset": ({"host_vars/thor-03.yml": "monitoring: {password: {env: THORFLEET_TEST_UNSET}}\n"},
                                     ["status", "inventory/lab.py"], 2, "THORFLEET_TEST_UNSET is empty or not set"),
}


def silent_port() -> int:
    """A loopback port that accepts connections and never sends a byte (a hung sshd, a wrong service)."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(64)
    held = []

    def accept() -> None:
        while True:
            held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return int(server.getsockname()[1])


def project(root: Path, ssh_port: int) -> Path:
    for folder in ("inventory", "group_vars", "host_vars", "roles"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "deploy.py", root)
    lab = root / "inventory" / "lab.py"
    unit = rf'"ssh_hostname": "127.0.0.\1", "ssh_port": {ssh_port}, "ssh_paramiko_connect_kwargs": {{"timeout": {TIMEOUT_S}}}'
    lab.write_text(re.sub(r'"ssh_hostname": "192\.168\.55\.(\d+)"', unit, lab.read_text()))
    return root


def timed(cwd: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "THORFLEET_API_KEY": "sk-corpus", "THORFLEET_METRICS_PASSWORD": "pw"}
    started = time.monotonic()
    ran = subprocess.run([str(THORFLEET), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)
    return ran, time.monotonic() - started


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, float]]:
    """Every case, run at once."""
    from ..conftest import closed_port

    jobs = {}
    for unit, port in (("refused", closed_port()), ("silent", silent_port())):
        for name, (args, _) in REACHING.items():
            jobs[f"{unit}: {name}"] = (project(tmp_path_factory.mktemp("p"), port), args)
    for name, (files, args, _, _) in CORRUPT.items():
        root = project(tmp_path_factory.mktemp("p"), closed_port())
        for relative, text in files.items():  # added to what the example has there
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            with (root / relative).open("a") as file:
                file.write(text)
        jobs[name] = (root, args)
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(timed, cwd, args) for name, (cwd, args) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def one_line_reason(result: subprocess.CompletedProcess, line: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "Exception" not in output, output
    assert any(line in row for row in output.splitlines()), f"no line says {line!r}:\n{output}"


@pytest.mark.parametrize("unit, reason", [("refused", REFUSED), ("silent", SILENT)])
@pytest.mark.parametrize("command", REACHING)
def test_a_command_meeting_a_dead_or_silent_unit_says_so_in_one_line(ran, unit, reason, command):
    result, seconds = ran[f"{unit}: {command}"]
    host = REACHING[command][1]
    assert result.returncode == 1, result.stdout + result.stderr
    one_line_reason(result, f"{host} (127.0.0.{100 + int(host[-1])}:")
    one_line_reason(result, reason)
    assert seconds < 2 * TIMEOUT_S + 20, f"{command} took {seconds:.0f} s against a {unit} unit"


@pytest.mark.parametrize("case", CORRUPT)
def test_a_file_that_is_not_what_it_should_be_is_one_line(ran, case):
    result, _ = ran[case]
    _, args, status, line = CORRUPT[case]
    assert result.returncode == status, result.stdout + result.stderr
    one_line_reason(result, line)


def test_init_writes_nothing_before_refusing(tmp_path):
    from click.testing import CliRunner

    from thorfleet.commands import main

    assert CliRunner().invoke(main, ["init", str(tmp_path / "new")]).exit_code == 0  # nothing there yet: it writes
    assert (tmp_path / "new" / "deploy.py").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "roles").write_text("")
    refused = CliRunner().invoke(main, ["init", str(tmp_path / "other")])
    assert refused.exit_code == 2 and "other/roles is a file where a folder must go" in refused.output
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["roles"]
