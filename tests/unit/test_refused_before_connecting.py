"""Every kind of configuration mistake is refused by `thorfleet validate` and by the deploy itself
(`pyinfra -y inventory/lab.py deploy.py --dry`) before any connection, and no error shows a secret.

Each case of the corpus (tests/data/invalid_configs.yml) becomes a small project whose one host,
thor-01 in group llm, points at a loopback port where nothing listens.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from thorfleet.commands import main

from ..conftest import ROOT, closed_port
from .helpers import write_tree
from .test_invalid_configs import CASES

PYINFRA = Path(sys.executable).parent / "pyinfra"
# A value every case finds in the controller's environment: the example's key variable.
ENV_SECRET = "sk-env-marker-7f3a9c"
# One case per kind of mistake, also run through pyinfra (a few seconds each).
THROUGH_PYINFRA = [
    "a key written twice in one mapping names both lines",
    "a number with a leading zero is refused, not read as octal",
    "an alias inside its own anchor",
    "a word YAML 1.1 would read as a boolean stays a word, and is refused where a word is wrong",
    "file that is not a mapping",
    "a cross-key error names the file that set the offending value, not the last one that touched the mapping",
    "an image tagged latest is refused unless pinned by digest",
    "a native engine running as root is refused",
    "an API key from an unset environment variable",
    "a Wi-Fi password from a file that does not exist",
    "a secret pasted into another key is not shown in the error",
    "inline secret instead of env or file",
    "a context size written as 32k",
    "an engine on node exporter's default port names the default it meets",
    "a zero Prometheus retention",
]


def project(root: Path, files: dict) -> Path:
    inventory = (
        "from thorfleet.inventory import attach_config\n"
        f"llm = [('thor-01', {{'ssh_hostname': '127.0.0.1', 'ssh_port': {closed_port()}}})]\n"
        "attach_config(globals())\n"
    )
    write_tree(root, {**files, "inventory/lab.py": inventory})
    return root


def secrets_of(case: dict) -> list[str]:
    """The secret values a case puts in the environment or writes into its files."""
    text = repr(case["files"])
    return [ENV_SECRET, *case.get("env", {}).values(), *(m for m in ("sk-inline-hunter2",) if m in text)]


@pytest.fixture
def case_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THORFLEET_API_KEY", ENV_SECRET)

    def setup(case: dict) -> Path:
        for name, value in case.get("env", {}).items():
            monkeypatch.setenv(name, value)
        return project(tmp_path, case["files"])

    return setup


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_validate_refuses_every_case_naming_file_and_key_and_shows_no_secret(case_env, case):
    root = case_env(case)
    result = CliRunner().invoke(main, ["validate", str(root / "inventory" / "lab.py")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for expected in case["expect"]:
        where = f"{expected['file']}: {expected['key']}: " if expected["key"] else f"{expected['file']}: "
        assert where in result.output and expected["reason"] in result.output, result.output
    leaked = [s for s in secrets_of(case) if s in result.output]
    assert not leaked, f"a secret is in the output:\n{result.output}"


@pytest.mark.parametrize("name", THROUGH_PYINFRA)
def test_the_deploy_refuses_it_before_connecting(case_env, name):
    case = next(c for c in CASES if c["name"] == name)
    root = case_env(case)
    result = subprocess.run([str(PYINFRA), "-y", "inventory/lab.py", str(ROOT / "deploy.py"), "--dry"],
                            capture_output=True, text=True, cwd=root, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for expected in case["expect"]:
        assert expected["file"] in output and expected["reason"] in output, output
    assert "Connecting" not in output and "Traceback" not in output, output
    assert not [s for s in secrets_of(case) if s in output], output


def test_a_group_file_no_inventory_declares_is_refused_and_an_unknown_host_file_warned(case_env):
    root = case_env({"files": {"group_vars/lm.yml": {"power": {"mode": "MAXN"}}, "host_vars/thor-9.yml": {}}})
    result = CliRunner().invoke(main, ["validate", str(root / "inventory" / "lab.py")])
    assert result.exit_code == 2
    assert "group_vars/lm.yml: no inventory in" in result.output and "declares a group 'lm'" in result.output
    assert "did you mean 'llm'?" in result.output
    (root / "group_vars" / "lm.yml").unlink()
    result = CliRunner().invoke(main, ["validate", str(root / "inventory" / "lab.py")])
    assert result.exit_code == 0, result.output
    assert "warning: host_vars/thor-9.yml: no inventory in" in result.output
    assert "warning: host_vars/thor-9.yml: is empty" not in result.output  # one word per file is enough


def test_an_empty_file_is_a_warning_shown_by_the_deploy_before_connecting(case_env):
    root = case_env({"files": {"group_vars/llm.yml": "# nothing yet\n"}})
    result = subprocess.run([str(PYINFRA), "-y", "inventory/lab.py", str(ROOT / "deploy.py"), "--dry"],
                            capture_output=True, text=True, cwd=root, timeout=120)
    before_connecting = (result.stdout + result.stderr).split("Connecting")[0]
    assert "thorfleet: warning: group_vars/llm.yml: is empty: it sets nothing" in before_connecting


def test_the_deploy_refuses_two_names_for_one_machine_before_connecting(tmp_path):
    inventory = ("from thorfleet.inventory import attach_config\n"
                 f"llm = [('thor-01', {{'ssh_hostname': '127.0.0.1', 'ssh_port': {closed_port()}}}),\n"
                 "       ('thor-01b', {'ssh_hostname': '127.0.0.1', 'ssh_port': PORT})]\n"
                 "attach_config(globals())\n")
    port = inventory.split("'ssh_port': ")[1].split("}")[0]
    root = project(tmp_path, {})
    (root / "inventory" / "lab.py").write_text(inventory.replace("PORT", port))
    result = subprocess.run([str(PYINFRA), "-y", "inventory/lab.py", str(ROOT / "deploy.py"), "--dry"],
                            capture_output=True, text=True, cwd=root, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"'thor-01' and 'thor-01b' are one machine, 127.0.0.1:{port} (lines 2, 3)" in output, output
    assert "Connecting" not in output and "Traceback" not in output, output
