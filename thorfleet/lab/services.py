"""The controller's lab services, in one background process: `git daemon`, the HTTP server, and a
registry standing in for Docker Hub (Debian's docker-registry; its access log in layout.REGISTRY).

`python -m thorfleet.lab.services` serves on the lab bridge's address only (see layout.py), so
nothing of it is reachable from outside the lab.
"""

import os
import signal
import socket
import subprocess
import sys

from thorfleet.core.wait import wait_until
from thorfleet.lab import layout
from thorfleet.lab.system import LabError, alive, python

PIDFILE = layout.LAB / "services.pid"
LOG = layout.LAB / "services.log"
GIT_ROOT = layout.LAB / "git"
MODELS = layout.LAB / "models"
FILES = layout.LAB / "files"


def _pid() -> int | None:
    try:
        pid = int(PIDFILE.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def _listening(port: int) -> bool:
    try:
        socket.create_connection((layout.CONTROLLER_ADDRESS, port), timeout=1).close()
        return True
    except OSError:
        return False


def start(log=print) -> None:
    if _pid():
        return
    with open(LOG, "ab") as out:
        process = subprocess.Popen([python(), "-m", "thorfleet.lab.services"], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    PIDFILE.write_text(str(process.pid))
    def listening() -> bool:
        if process.poll() is not None:
            raise LabError(f"the lab services exited at start; see {LOG}")
        return all(_listening(port) for port in (layout.HTTP_PORT, layout.GIT_PORT, layout.REGISTRY_PORT))

    if wait_until(listening, 20, interval=0.2) is None:
        raise LabError(f"the lab services did not start; see {LOG}")
    log(f"lab services on {layout.CONTROLLER_ADDRESS}: http :{layout.HTTP_PORT}, git :{layout.GIT_PORT}, "
        f"registry :{layout.REGISTRY_PORT}")


def stop() -> None:
    if pid := _pid():
        os.killpg(pid, signal.SIGTERM)
        if wait_until(lambda: not alive(pid), 10, interval=0.1) is None:
            os.killpg(pid, signal.SIGKILL)
    PIDFILE.unlink(missing_ok=True)


def main() -> None:
    from thorfleet.lab.downloads import WHEELS
    from thorfleet.lab.http_server import make_server

    git = subprocess.Popen([
        "git", "daemon", "--reuseaddr", "--export-all", f"--base-path={GIT_ROOT}",
        f"--listen={layout.CONTROLLER_ADDRESS}", f"--port={layout.GIT_PORT}", str(GIT_ROOT),
    ])
    registry = _registry()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = make_server(layout.CONTROLLER_ADDRESS, layout.HTTP_PORT, MODELS, WHEELS, FILES)
    try:
        server.serve_forever()
    finally:
        git.terminate()
        registry.terminate()


REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
http:
  addr: {address}:{port}
"""


def _registry() -> subprocess.Popen:
    """The stand-in for Docker Hub: the reference registry, on the bridge's address only."""
    layout.REGISTRY.mkdir(parents=True, exist_ok=True)
    config = layout.REGISTRY / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(storage=layout.REGISTRY / "storage", address=layout.CONTROLLER_ADDRESS,
                                             port=layout.REGISTRY_PORT))
    with open(REGISTRY_LOG, "ab") as out:
        return subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)


REGISTRY_LOG = layout.REGISTRY / "access.log"


if __name__ == "__main__":
    main()
