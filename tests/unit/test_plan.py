"""`thorfleet plan`: pyinfra's JSON plan read per unit, and the exit status that says what it found."""

import shutil
import subprocess
import sys
from pathlib import Path

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


def test_the_plan_is_read_per_unit_and_a_unit_with_nothing_to_do_says_so():
    plans = read_plan(PAYLOAD, ["thor-01", "thor-02"])
    assert plans["thor-01"].changes == ["engines | Engine qwen3-8b (llama-server)"] and plans["thor-01"].changed
    assert plans["thor-01"].if_changed == ["engines | Restart thorfleet-qwen3-8b"]
    assert not plans["thor-02"].changed and plans["thor-02"].changes == [] and plans["thor-02"].if_changed == []


def run_plan(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "THORFLEET_API_KEY": "sk-plan", "THORFLEET_METRICS_PASSWORD": "pw"}
    return subprocess.run([str(THORFLEET), "plan", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_units_that_cannot_be_reached_make_it_an_error_naming_each(project_copy):
    shutil.copy(ROOT / "deploy.py", project_copy)
    result = run_plan(project_copy, "inventory/lab.py", "--limit", "thor-01,thor-02")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "error: the plan could not be made: " in result.stderr and "Traceback" not in result.stderr
    assert "thor-01: could not connect" in result.stderr and "thor-02: could not connect" in result.stderr
    assert "thor-03" not in result.stderr.split("the plan could not be made")[1]


def test_a_broken_config_or_no_deploy_is_an_error_not_a_change(project_copy):
    assert run_plan(project_copy, "inventory/lab.py").returncode == 3  # no deploy.py in the folder
    shutil.copy(ROOT / "deploy.py", project_copy)
    (project_copy / "host_vars" / "thor-01.yml").write_text("power: {clock: locked}\n")
    result = run_plan(project_copy, "inventory/lab.py")
    assert result.returncode == 3 and "host_vars/thor-01.yml: power.clock: unknown key" in result.stderr, result.stderr
