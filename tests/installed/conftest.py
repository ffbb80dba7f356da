"""The packaging tests' venv (thorfleet installed from this checkout, without extras, not editable) is
made while the other tests run: those tests go last, and pip starts as soon as they are selected."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEEL_VENV = pytest.StashKey[tuple[Path, subprocess.Popen]]()


@pytest.hookimpl(trylast=True)  # after `-m` and `-k` have deselected what they do
def pytest_collection_modifyitems(session, config, items):
    packaging = [item for item in items if item.get_closest_marker("packaging")]
    if not packaging:
        return
    items[:] = [item for item in items if not item.get_closest_marker("packaging")] + packaging
    venv = Path(tempfile.mkdtemp(prefix="thorfleet-wheel-venv-"))
    # --no-compile: Python compiles what the tests import on first use; compiling every dependency took half the time.
    script = '"$1" -m venv "$2" && "$2/bin/pip" install --quiet --disable-pip-version-check --no-compile "$3"'
    config.stash[WHEEL_VENV] = venv, subprocess.Popen(["sh", "-c", script, "sh", sys.executable, str(venv), str(ROOT)],
                                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def pytest_sessionfinish(session):
    if WHEEL_VENV in session.config.stash:
        venv, making = session.config.stash[WHEEL_VENV]
        if making.poll() is None:
            making.kill()
        making.wait()
        shutil.rmtree(venv, ignore_errors=True)


@pytest.fixture(scope="session")
def installed(pytestconfig) -> Path:
    """bin/ of that venv, once pip is done."""
    venv, making = pytestconfig.stash[WHEEL_VENV]
    output, _ = making.communicate(timeout=600)
    assert making.returncode == 0, output[-3000:]
    return venv / "bin"
