"""thorfleet as a user gets it: `pip install .` (not editable) into a fresh venv, used from a fleet
project made by `thorfleet init` outside the checkout."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.lab.helpers import Converge
from thorfleet.lab import lab

ROOT = Path(__file__).resolve().parents[2]


def run(*argv, cwd, timeout: int = 600, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.packaging
def test_the_installed_package_works_outside_the_checkout(installed, tmp_path):
    made = run(installed / "thorfleet", "init", "fleet", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    fleet = tmp_path / "fleet"
    assert {"deploy.py", "inventory/lab.py", "group_vars/all.yml", "README.md", "roles/order.yml",
            "roles/fleet_hosts/__init__.py", "roles/fleet_hosts/block.j2"} <= \
        {str(p.relative_to(fleet)) for p in fleet.rglob("*") if p.is_file()}
    assert not (fleet / "inventory/sim.py").exists(), "the lab's files come only with --lab"
    valid = run(installed / "thorfleet", "validate", "inventory/lab.py", cwd=fleet)
    assert valid.returncode == 0 and "3 hosts, 7 engines" in valid.stdout, valid.stdout + valid.stderr
    rendered = run(installed / "thorfleet", "render", "inventory/lab.py", "thor-01", cwd=fleet)
    assert rendered.returncode == 0, rendered.stderr
    assert "==> /etc/systemd/system/thorfleet-qwen3-8b.service" in rendered.stdout
    assert "keys merged into the unit's file" in rendered.stdout  # daemon.json is an overlay
    assert "==> /etc/hosts" in rendered.stdout and "role fleet_hosts" in rendered.stdout  # the project's own role
    # No top-level `roles` module, no lab dependencies, and `thorfleet lab` says how to get it.
    assert run(installed / "python", "-c", "import roles", cwd=tmp_path).returncode != 0
    requires = run(installed / "pip", "show", "thorfleet", cwd=fleet).stdout
    assert "Requires:" in requires and "gguf" not in requires and "numpy" not in requires
    assert run(installed / "python", "-c", "import gguf", cwd=fleet).returncode != 0
    no_lab = run(installed / "thorfleet", "lab", "up", cwd=fleet)
    assert no_lab.returncode == 2 and "pip install 'thorfleet[lab]'" in no_lab.stderr
    again = run(installed / "thorfleet", "init", ".", cwd=fleet)
    assert again.returncode == 0 and "created" not in again.stdout and "unchanged" in again.stdout


@pytest.mark.lab
@pytest.mark.packaging
def test_the_lab_converges_and_verifies_from_an_init_project_with_the_installed_tool(installed, lab_units, tmp_path):
    """Fresh units converged from `thorfleet init --lab`'s project by the installed pyinfra and
    thorfleet, a second converge changes nothing, and the installed `thorfleet verify` passes."""
    made = run(installed / "thorfleet", "init", "fleet", "--lab", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    fleet = tmp_path / "fleet"
    # The lab's files (its SSH key, known hosts, API key, image archive) are where the sim files say:
    # .cache/ of the project, here the checkout's, which the running lab uses.
    (fleet / ".cache").symlink_to(ROOT / ".cache")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    lab.down(log=lambda text: None)
    lab.up(3, log=lambda text: None)
    try:
        for expect_changes in (True, False):
            ran = run(installed / "pyinfra", "-y", "inventory/sim.py", "deploy.py", cwd=fleet, timeout=1800, env=env)
            result = Converge(ran.returncode, ran.stdout + ran.stderr, counts={})  # the installed pyinfra runs uncounted
            assert result.returncode == 0, result.output[-5000:]
            assert bool(result.changed()) == expect_changes, result.changed()
        checked = run(installed / "thorfleet", "verify", "inventory/sim.py", cwd=fleet, timeout=900, env=env)
        assert checked.returncode == 0, checked.stdout[-5000:]
        assert checked.stdout.count(" ok ") == 3 and "FAILED" not in checked.stdout
    finally:  # fresh units again, as the other lab tests expect them
        lab.down(log=lambda text: None)
        lab.up(3, log=lambda text: None)
