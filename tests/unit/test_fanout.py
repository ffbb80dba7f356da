"""The fleet's fan-out (core/fanout.py): which uftp sessions the controller runs for the units that
joined, and what it records as arrived, with a stand-in `uftp` that writes uftp's status file."""

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

from thorfleet.core import fanout
from thorfleet.fleet.schema import HostConfig

FAKE_UFTP = r"""#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
hosts, status, base = args[args.index("-H") + 1].split(","), args[args.index("-S") + 1], args[args.index("-E") + 1]
files = args[args.index("-x") + 2:]  # after its options, as fanout._send lists them
with open(os.environ["UFTP_CALLS"], "a") as calls:
    calls.write(json.dumps({"hosts": sorted(hosts), "base": base, "files": files}) + "\n")
with open(status, "w") as out:
    for host in hosts:
        if host != os.environ.get("UFTP_DEAF", ""):
            out.writelines(f"RESULT;{host};{f[len(base):]};1;copy;1\n" for f in files)
"""


def test_one_session_per_folder_and_set_of_units_and_only_what_arrived_is_recorded(tmp_path, monkeypatch):
    uftp = tmp_path / "bin/uftp"
    uftp.parent.mkdir()
    uftp.write_text(FAKE_UFTP)
    uftp.chmod(0o755)
    monkeypatch.setenv("PATH", f"{uftp.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("UFTP_CALLS", str(tmp_path / "calls"))
    monkeypatch.setenv("UFTP_DEAF", "10.0.0.13")  # a unit whose uftpd died: uftp reports nothing for it
    models, builds = tmp_path / "models", tmp_path / "builds"
    for root, name in ((models, "org/m/a.gguf"), (models, "org/m/b.gguf"), (builds, "llama.cpp/b1.tar.gz")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    image = str(tmp_path / "standins.tar").lstrip("/")
    Path(f"/{image}").write_bytes(b"x")
    joined = fanout.Session()
    joined.receivers = {
        "u1": fanout.Receiver("u1", "10.0.0.11", models, {"org/m/a.gguf", "org/m/b.gguf"}),
        "u2": fanout.Receiver("u2", "10.0.0.12", models, {"org/m/a.gguf"}),
        "u3": fanout.Receiver("u3", "10.0.0.13", models, {"org/m/a.gguf"}),
        "u4": fanout.Receiver("u4", "10.0.0.14", builds, {"llama.cpp/b1.tar.gz"}),  # another folder: a session of its own
        "u5": fanout.Receiver("u5", "10.0.0.15", Path("/"), {image}),  # named by its path on the controller (image archives)
    }
    store = HostConfig.model_validate({"model_store": {"fetch": "fleet", "serve_address": "10.0.0.1"}}).model_store
    fanout._send(joined, store, tmp_path / "controller.key")
    calls = [json.loads(line) for line in (tmp_path / "calls").read_text().splitlines()]
    assert sorted((c["hosts"], c["base"], c["files"]) for c in calls) == sorted([
        (["10.0.0.11", "10.0.0.12", "10.0.0.13"], f"{models}/", [f"{models}/org/m/a.gguf"]),
        (["10.0.0.11"], f"{models}/", [f"{models}/org/m/b.gguf"]),
        (["10.0.0.14"], f"{builds}/", [f"{builds}/llama.cpp/b1.tar.gz"]),
        (["10.0.0.15"], "/", [f"/{image}"]),
    ])
    assert dict(joined.arrived) == {"u1": {"org/m/a.gguf", "org/m/b.gguf"}, "u2": {"org/m/a.gguf"},
                                    "u4": {"llama.cpp/b1.tar.gz"}, "u5": {image}}  # u3's uftpd heard nothing



def test_auto_sends_by_multicast_what_two_units_need_when_the_controller_can(tmp_path, monkeypatch, caplog):
    """model_store.fetch: auto (the default): the fan-out's settings, with the controller's address on
    the units' route, for files two or more units need; None for one unit, without uftp here, or when
    the units are reached from different addresses of the controller (said once per deploy)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("uftp", "uftp_keymgt"):
        (tools / name).write_text("#!/bin/sh\n")
        (tools / name).chmod(0o755)
    (tools / "ip").symlink_to(shutil.which("ip"))  # iproute2's, which tells the routes
    monkeypatch.setenv("PATH", str(tools))
    auto = HostConfig().model_store
    assert auto.fetch == "auto" and auto.serve_address is None
    deploy = SimpleNamespace()
    assert fanout.sender(deploy, auto, {"u1": "127.0.0.1"}) is None  # one unit: it downloads its own copy
    sent = fanout.sender(deploy, auto, {"u1": "127.0.0.1", "u2": "127.0.0.2"})
    assert sent.serve_address == "127.0.0.1" and sent.fanout_port == auto.fanout_port and auto.serve_address is None
    given = auto.model_copy(update={"serve_address": "10.0.0.1"})
    assert fanout.sender(deploy, given, {"u1": "127.0.0.1", "u2": "127.0.0.2"}).serve_address == "10.0.0.1"
    for fetch in ("unit", "controller"):
        assert fanout.sender(deploy, auto.model_copy(update={"fetch": fetch}), {"u1": "127.0.0.1", "u2": "127.0.0.2"}) is None
    fleet = HostConfig.model_validate({"model_store": {"fetch": "fleet", "serve_address": "10.0.0.1"}}).model_store
    assert fanout.sender(deploy, fleet, {"u1": "127.0.0.1"}) is fleet  # fleet: always, even to one unit

    assert fanout.controller_address(["127.0.0.1", "localhost"]) == "127.0.0.1"
    assert fanout.controller_address(["127.0.0.1", "no-such-unit.invalid"]) is None
    with caplog.at_level("WARNING", logger="pyinfra"):
        assert fanout.sender(deploy, auto, {"u1": "127.0.0.1", "u2": "no-such-unit.invalid"}) is None
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        assert fanout.sender(SimpleNamespace(), auto, {"u1": "127.0.0.1", "u2": "127.0.0.2"}) is None
        assert fanout.sender(deploy, auto, {"u1": "127.0.0.1", "u2": "127.0.0.2"}) is None
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said  # once per deploy
    assert "the units are not all on the controller's LAN, reached from one address of it (set model_store.serve_address" \
        in said[0]
    assert "uftp is not installed on the controller (apt install uftp)" in said[1]
