"""A role's files checked in one command, and only the differing ones installed."""

import subprocess
from hashlib import sha256

from thorfleet.core.install import FilesState, files_installed
from thorfleet.core.render import RenderedFile

from .fake_host import run_operation

UNIT = RenderedFile("/etc/systemd/system/thorfleet-a.service", "[Unit]\n", role="engines")
ENV = RenderedFile("/etc/thorfleet/engines/a.env", "A=1\n", mode="600", role="engines")


def current(rendered: RenderedFile, **changes) -> dict:
    return {"sha256": sha256(rendered.content.encode()).hexdigest(), "mode": rendered.mode, "owner": "root",
            "group": "root", **changes}


def test_every_file_current_gives_no_commands():
    commands, noops = run_operation(files_installed, {"FilesState": {UNIT.dest: current(UNIT), ENV.dest: current(ENV)}},
                                    [UNIT, ENV])
    assert commands == [] and noops == [f"2 files are current: {UNIT.dest}, {ENV.dest}"]


def test_only_the_missing_or_differing_files_are_staged_and_installed():
    facts = {"FilesState": {UNIT.dest: None, ENV.dest: current(ENV, mode="644")}}
    commands, noops = run_operation(files_installed, facts, [UNIT, ENV])
    assert noops == []
    uploads = [c for c in commands if isinstance(c, tuple)]
    assert uploads == [("/tmp/pyinfra-upload", "[Unit]\n"), ("/tmp/pyinfra-upload", "A=1\n")]
    installs = [c for c in commands if isinstance(c, str) and c.startswith("install")]
    assert installs == [f"install -D -m 644 -o root -g root /tmp/pyinfra-upload {UNIT.dest} && rm -f /tmp/pyinfra-upload",
                        f"install -D -m 600 -o root -g root /tmp/pyinfra-upload {ENV.dest} && rm -f /tmp/pyinfra-upload"]
    commands, _ = run_operation(files_installed, {"FilesState": {UNIT.dest: current(UNIT, owner="nvidia")}}, [UNIT])
    assert commands[-1].startswith("install -D -m 644 -o root -g root")


def test_files_state_reads_many_files_with_one_command(tmp_path):
    present, missing = tmp_path / "with space.conf", tmp_path / "missing"
    present.write_text("x\n")
    present.chmod(0o640)
    command = FilesState().command([str(present), str(missing)]).get_raw_value()
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout
    found = FilesState().process(out.splitlines())
    assert found[str(missing)] is None
    assert found[str(present)]["sha256"] == sha256(b"x\n").hexdigest() and found[str(present)]["mode"] == "640"
