"""The thorfleet CLI on the example lab and on broken copies of it."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from thorfleet.commands import main

ROOT = Path(__file__).resolve().parents[2]
LAB = str(ROOT / "inventory" / "lab.py")


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_validate_the_example_lab():
    result = run("validate", LAB)
    assert result.exit_code == 0, result.output
    assert "3 hosts, 7 engines, 5 models" in result.output


def test_hosts_table_lists_hosts_engines_ports_models():
    result = run("hosts", LAB)
    assert result.exit_code == 0
    for text in ("thor-01", "thor-03", "qwen3-vllm", "127.0.0.1:30000", "whisper-large"):
        assert text in result.output


def test_render_thor_01_prints_units_and_daemon_json():
    result = run("render", LAB, "thor-01")
    assert result.exit_code == 0
    for dest in ("/etc/docker/daemon.json", "/etc/systemd/system/thorfleet-qwen3-8b.service",
                 "/etc/systemd/system/thorfleet-whisper.service", "/etc/systemd/system/thorfleet-jetson-clocks.service"):
        assert f"==> {dest} " in result.output
    assert '"default-runtime": "nvidia"' in result.output


def test_render_one_file():
    result = run("render", LAB, "thor-01", "--file", "/etc/docker/daemon.json")
    assert result.exit_code == 0
    assert result.output.count("==>") == 1


def test_render_unknown_host_or_file():
    assert run("render", LAB, "thor-99").exit_code == 2
    assert run("render", LAB, "thor-01", "--file", "/etc/nothing").exit_code == 2


def test_broken_config_exits_2_with_file_key_and_reason(project_copy):
    asr = project_copy / "group_vars" / "asr.yml"
    asr.write_text(asr.read_text().replace("port: 8080", "port: eighty"))
    result = run("validate", str(project_copy / "inventory" / "lab.py"))
    assert result.exit_code == 2
    assert "group_vars/asr.yml: engines.whisper.port: Input should be a valid integer" in result.output
    assert "Traceback" not in result.output


def test_missing_inventory_is_a_clear_error(tmp_path):
    result = run("validate", str(tmp_path / "nope.py"))
    assert result.exit_code == 2
    assert "no such inventory file" in result.output


def test_console_script_is_installed():
    result = subprocess.run([str(Path(sys.executable).parent / "thorfleet"), "validate", LAB], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_pyinfra_dry_run_stops_before_connecting_on_a_broken_config(project_copy):
    """`pyinfra inventory/lab.py deploy.py --dry` with a broken group_vars file: the same error, no connection."""
    llama = project_copy / "group_vars" / "llama.yml"
    llama.write_text(llama.read_text().replace("port: 8000", "port: 8000\n    bind_port: 1"))
    pyinfra = Path(sys.executable).parent / "pyinfra"
    result = subprocess.run(
        [str(pyinfra), str(project_copy / "inventory" / "lab.py"), str(ROOT / "deploy.py"), "--dry", "-y"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode != 0
    assert "group_vars/llama.yml: engines.qwen3-8b.bind_port: unknown key" in result.stderr
    assert "Connecting" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("args, option", [
    (["rollout", "inventory/lab.py", "--max-fail", "nan"], "--max-fail"),
    (["rollout", "inventory/lab.py", "--max-fail", "-1"], "--max-fail"),
    (["status", "inventory/lab.py", "--interval", "-3"], "--interval"),
    (["status", "inventory/lab.py", "--interval", "nan"], "--interval"),
    (["bench", "compare", "a", "b", "--tolerance", "inf"], "--tolerance"),
    (["tune", "inventory/lab.py", "--host", "thor-01", "--engine", "qwen3-8b", "--ttft-ms", "nan"], "--ttft-ms"),
])
def test_numeric_options_refuse_what_is_not_a_number_in_range(args, option):
    result = run(*args)
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output, result.output
