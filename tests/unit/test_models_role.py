"""The models role: hub listings, the fetch decisions on the unit, and the operations with fake facts."""

import hashlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from thorfleet.fleet.inventory import load_fleet
from thorfleet.roles.models import deploy, hub
from thorfleet.roles.models.facts import ModelState, ModelStates, VenvPackages
from thorfleet.core import fanout
from thorfleet.core.apt import apt_packages
from thorfleet.roles.models.operations import FETCHER, HUB_VENV, fan_out, hub_cli, model, prune
from thorfleet.fleet.schema import HostConfig
from thorfleet.core.http_files import send_file

from pyinfra.context import ctx_host, ctx_state

from .fake_host import FakeHost, failure_of, run_operation, said_before_its_first_command

FETCH_MODEL = Path(__file__).resolve().parents[2] / "thorfleet/roles/models/fetch_model.py"


def config(models: dict, **store):
    return HostConfig.model_validate({"models": models, "model_store": store})


def test_modelscope_listing_is_filtered_by_include_and_config_sha_wins(monkeypatch):
    listing = {"Data": {"Files": [
        {"Path": "Qwen3-8B-Q5_K_M.gguf", "Size": 10, "Sha256": "a" * 64, "Type": "blob"},
        {"Path": "Qwen3-8B-Q8_0.gguf", "Size": 20, "Sha256": "b" * 64, "Type": "blob"},
        {"Path": "docs", "Type": "tree"},
    ]}}
    asked = []
    monkeypatch.setattr(hub, "_get_json", lambda url: asked.append(url) or listing)
    c = config({"m": {"id": "Qwen/Qwen3-8B-GGUF", "include": ["*Q5_K_M.gguf"], "revision": "v1"}},
               modelscope_endpoint="http://mirror.example:7080")
    files = hub.model_files(c.models["m"], c.model_store)
    assert files == [hub.HubFile("Qwen3-8B-Q5_K_M.gguf", 10, "a" * 64)]
    assert asked == ["http://mirror.example:7080/api/v1/models/Qwen/Qwen3-8B-GGUF/repo/files?Recursive=true&Revision=v1"]
    c = config({"m": {"id": "Qwen/Qwen3-8B-GGUF", "include": ["*Q5_K_M.gguf"], "sha256": {"Qwen3-8B-Q5_K_M.gguf": "c" * 64}}})
    assert hub.model_files(c.models["m"], c.model_store)[0].sha256 == "c" * 64


def test_huggingface_listing_takes_the_lfs_sha256(monkeypatch):
    tree = [{"type": "file", "path": "ggml-large-v3-turbo.bin", "size": 5, "lfs": {"oid": "d" * 64}},
            {"type": "file", "path": "README.md", "size": 1}, {"type": "directory", "path": "x"}]
    monkeypatch.setattr(hub, "_get_json", lambda url: tree)
    c = config({"w": {"source": "huggingface", "id": "ggerganov/whisper.cpp", "include": ["ggml-large-v3-turbo.bin"]}})
    assert hub.model_files(c.models["w"], c.model_store) == [hub.HubFile("ggml-large-v3-turbo.bin", 5, "d" * 64)]


def test_a_listing_with_no_matching_file_is_an_error(monkeypatch):
    monkeypatch.setattr(hub, "_get_json", lambda url: {"Data": {"Files": []}})
    c = config({"m": {"id": "Qwen/Qwen3-8B-GGUF", "include": ["*.gguf"]}})
    with pytest.raises(hub.HubError, match="no file matches"):
        hub.model_files(c.models["m"], c.model_store)


def spec(tmp_path, files, **extra):
    return {"name": "m", "dest": str(tmp_path / "dest"), "source": "url", "id": None, "revision": None,
            "url": None, "mirror": None, "cli": {}, "files": files, **extra}


def state(verified: dict, free=10 << 30, have=0):
    return {"ModelState": {"files": {p: {"verified": v, "bytes": have} for p, v in verified.items()}, "free": free}}


def test_verified_model_gives_no_commands():
    s = spec(Path("/x"), [{"path": "a.gguf", "size": 5, "sha256": None}])
    commands, noops = run_operation(model, state({"a.gguf": True}), s, {})
    assert commands == [] and noops == ["model m: 1 files verified in /x/dest"]


def test_pending_model_uploads_its_spec_and_runs_the_fetcher_with_the_endpoint():
    s = spec(Path("/x"), [{"path": "a.gguf", "size": 5, "sha256": None}])
    commands, _ = run_operation(model, state({"a.gguf": False}), s, {"MODELSCOPE_ENDPOINT": "http://10.231.0.1:7080"})
    assert commands[0] == "mkdir -p /var/lib/thorfleet/models"
    assert commands[1][0] == "/var/lib/thorfleet/models/m.json" and json.loads(commands[1][1])["dest"] == "/x/dest"
    assert commands[2] == f"MODELSCOPE_ENDPOINT=http://10.231.0.1:7080 python3 {FETCHER} /var/lib/thorfleet/models/m.json"


def test_too_little_space_stops_before_anything_runs_and_counts_partial_bytes():
    s = spec(Path("/x"), [{"path": "a.gguf", "size": 3 << 30, "sha256": None}])
    commands, _ = run_operation(model, state({"a.gguf": False}, free=2 << 30), s, {})
    assert failure_of(commands) == ("model m needs 3.00 GiB more in /x/dest, but only 2.00 GiB is free there; nothing "
                                    "was downloaded. Free space, or point models.m.dest or model_store.root elsewhere")
    # 1.5 GiB already arrived (a partial download): 1.5 GiB more fits in 2 GiB.
    commands, _ = run_operation(model, state({"a.gguf": False}, free=2 << 30, have=3 << 29), s, {})
    assert commands[-1].endswith("/var/lib/thorfleet/models/m.json")
    said = said_before_its_first_command(model, state({"a.gguf": False}, free=2 << 30, have=3 << 29), s, {})
    assert said == ["will download 1.50 GiB of model m (1 of 1 files to fetch or finish)"]  # what `thorfleet plan` names


def test_a_download_of_unknown_size_says_so_to_the_plan():
    s = spec(Path("/x"), [{"path": "a.gguf", "size": None, "sha256": None}, {"path": "b.json", "size": 9, "sha256": None}])
    said = said_before_its_first_command(model, state({"a.gguf": False, "b.json": True}), s, {})
    assert said == ["will download an unknown size of model m (1 of 2 files to fetch or finish)"]


def test_model_state_fact_on_a_real_folder(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.gguf").write_bytes(b"abc")
    (dest / "b.gguf.incomplete").write_bytes(b"12")
    files = [{"path": "a.gguf", "size": 3, "sha256": None}, {"path": "b.gguf", "size": 9, "sha256": None}]
    out = subprocess.run(["sh", "-c", ModelState().command(str(dest), files)], capture_output=True, text=True, check=True)
    found = ModelState().process(out.stdout.splitlines())
    assert found["files"] == {"a.gguf": {"verified": False, "bytes": 3}, "b.gguf": {"verified": False, "bytes": 2}}
    assert found["free"] > 0


def test_hub_cli_installed_at_its_pin_gives_no_commands():
    facts = {"VenvPackages": {"modelscope": "1.40.2"}}
    commands, noops = run_operation(hub_cli, facts, ["modelscope==1.40.2"])
    assert commands == [] and noops == [f"modelscope==1.40.2 installed in {HUB_VENV}"]
    commands, _ = run_operation(hub_cli, {"VenvPackages": {}}, ["modelscope==1.40.2"], "http://10.231.0.1:7080/simple/")
    assert commands == [f"test -x {HUB_VENV}/bin/pip || python3 -m venv {HUB_VENV}",
                        f"{HUB_VENV}/bin/pip install --no-input --disable-pip-version-check modelscope==1.40.2 "
                        "--index-url http://10.231.0.1:7080/simple/ --trusted-host 10.231.0.1"]
    assert VenvPackages().process(['[{"name": "huggingface_hub", "version": "2.4.0"}]']) == {"huggingface-hub": "2.4.0"}


def test_prune_deletes_only_unused_folders_thorfleet_filled():
    facts = {"ManagedModelFolders": ["/models/a", "/models/b"]}
    commands, _ = run_operation(prune, facts, "/models", ["/models/a"])
    assert commands == ["rm -rf /models/b"]
    commands, noops = run_operation(prune, facts, "/models", ["/models/a", "/models/b"])
    assert commands == [] and noops == ["no unused model folders under /models"]


def test_fetch_controller_needs_an_address():
    with pytest.raises(Exception, match="fetch 'controller' needs serve_address"):
        config({}, fetch="controller")


# The unit-side fetcher, run for real against a local HTTP server (the `mirror` path, curl resuming).

class _Files(BaseHTTPRequestHandler):
    root: Path

    def do_GET(self):
        send_file(self, self.root / self.path.lstrip("/"))

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Files,), {"root": root}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_fetcher(tmp_path, s):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(s))
    return subprocess.run([sys.executable, str(FETCH_MODEL), str(path)], capture_output=True, text=True)


def test_fetcher_downloads_verifies_and_then_leaves_files_alone(tmp_path, mirror):
    root, url = mirror
    (root / "a.gguf").write_bytes(b"x" * 1000)
    want = {"path": "a.gguf", "size": 1000, "sha256": hashlib.sha256(b"x" * 1000).hexdigest()}
    s = spec(tmp_path, [want], mirror=url)
    first = run_fetcher(tmp_path, s)
    assert first.returncode == 0, first.stderr
    stamps = json.loads((tmp_path / "dest/.thorfleet-verified.json").read_text())
    assert stamps["a.gguf"]["sha256"] == want["sha256"]
    (root / "a.gguf").unlink()  # a second run must not need the server
    assert run_fetcher(tmp_path, s).returncode == 0


def test_fetcher_replaces_a_corrupted_file_and_resumes_a_partial_one(tmp_path, mirror):
    root, url = mirror
    data = bytes(range(256)) * 40
    (root / "a.gguf").write_bytes(data)
    (root / "b.gguf").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.gguf").write_bytes(data[:-1] + b"!")  # right size, wrong content
    (dest / "b.gguf.part").write_bytes(data[:5000])  # an interrupted download
    s = spec(tmp_path, [{"path": p, "size": len(data), "sha256": sha} for p in ("a.gguf", "b.gguf")], mirror=url)
    result = run_fetcher(tmp_path, s)
    assert result.returncode == 0, result.stderr
    assert "a.gguf: sha256" in result.stdout and "deleted, fetching it again" in result.stdout
    assert (dest / "a.gguf").read_bytes() == data and (dest / "b.gguf").read_bytes() == data


def test_fetcher_deletes_a_download_that_does_not_match(tmp_path, mirror):
    root, url = mirror
    (root / "a.gguf").write_bytes(b"tampered")
    s = spec(tmp_path, [{"path": "a.gguf", "size": 8, "sha256": "0" * 64}], mirror=url)
    result = run_fetcher(tmp_path, s)
    assert result.returncode == 1
    assert "a.gguf sha256" in result.stderr and "deleted, the next deploy fetches it again" in result.stderr
    assert not (tmp_path / "dest/a.gguf").exists()


# model_store.fetch: fleet (the multicast fan-out, core/fanout.py)

FLEET = {"fetch": "fleet", "serve_address": "10.231.0.1"}


def fleet_spec(name, verified: bool):
    return {"name": name, "dest": f"/models/{name}", "key": f"modelscope/org/{name}/default",
            "files": [{"path": "a.gguf", "size": 100, "sha256": "a" * 64}], "verified": verified}


def states(*specs, free=10 << 30):
    by_dest = {s["dest"]: {"files": {"a.gguf": {"verified": s["verified"], "bytes": 0}}, "free": free} for s in specs}
    return {"ModelState": lambda dest, files: by_dest[dest]}


def test_fleet_mode_joins_the_session_for_exactly_the_files_the_unit_lacks():
    store = config({}, **FLEET).model_store
    lacking, present = fleet_spec("m", False), fleet_spec("n", True)
    commands, _ = run_operation(fan_out, states(lacking, present), [lacking, present], store, "10.231.0.12")
    assert len(commands) == 1 and "receive" in commands[0]
    assert "'modelscope/org/m/default/a.gguf'" in commands[0] and "org/n/" not in commands[0]


def test_fleet_mode_declines_when_nothing_is_lacking_or_there_is_no_room():
    store = config({}, **FLEET).model_store
    for specs, free, said in (([fleet_spec("m", True)], 10 << 30, "all 1 model files verified: nothing to receive"),
                              ([fleet_spec("m", False)], 10, "not enough room for the fan-out")):
        state = SimpleNamespace(config=SimpleNamespace(DIFF=False))
        commands, noops = run_operation(fan_out, states(*specs, free=free), specs, store, "10.231.0.12",
                                        pyinfra_state=state)
        assert commands == [] and noops[0].startswith(said)
        assert fanout.session(state, "models").answered == {"thor-01"}  # the others do not wait for it


def test_uftp_is_installed_only_after_debians_open_service_is_masked():
    facts = {"DebPackages": {}, "MaskedServices": []}
    commands, _ = run_operation(apt_packages, facts, ["uftp"], masked=["uftp.service"])
    assert commands[0] == "systemctl mask --now uftp.service" and "apt-get install -y --no-install-recommends uftp" in commands[1]
    commands, noops = run_operation(apt_packages, {"DebPackages": {"uftp": ["4"]}, "MaskedServices": ["uftp.service"]},
                                    ["uftp"], masked=["uftp.service"])
    assert commands == [] and noops == ["all 1 apt packages are installed, uftp.service masked"]
    commands, _ = run_operation(apt_packages, {"DebPackages": {"uftp": ["4"]}, "MaskedServices": []}, ["uftp"],
                                masked=["uftp.service"])
    assert commands == ["systemctl mask --now uftp.service"]  # installed by hand earlier: masked now


@pytest.mark.parametrize("store, why", [
    ({"fetch": "fleet"}, "fetch 'fleet' needs serve_address"),
    ({**FLEET, "serve_address": "fd00::1"}, "needs an IPv4 serve_address"),
    ({**FLEET, "fanout_group": "239.1.1.1"}, "not a source-specific multicast address"),
    ({**FLEET, "fanout_group": "232.255.255.255"}, "not a source-specific multicast address"),
])
def test_fleet_mode_settings_are_checked(store, why):
    with pytest.raises(Exception, match=why):
        config({}, **store)


def test_the_sender_is_named_by_its_address_and_the_data_goes_to_the_next_group():
    store = config({}, **FLEET, fanout_group="232.7.0.1").model_store
    assert fanout.server_id(store) == "0x0AE70001" and fanout.data_group(store) == "232.7.0.2"


def test_fetcher_takes_the_fan_outs_copy_and_fetches_a_wrong_one_again(tmp_path, mirror):
    root, url = mirror
    data = bytes(range(256)) * 40
    sha = hashlib.sha256(data).hexdigest()
    (root / "b.gguf").write_bytes(data)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.gguf").write_bytes(data)
    (incoming / "b.gguf").write_bytes(data[:-1] + b"!")  # arrived damaged
    s = spec(tmp_path, [{"path": p, "size": len(data), "sha256": sha} for p in ("a.gguf", "b.gguf")], mirror=url,
             incoming=str(incoming))
    result = run_fetcher(tmp_path, s)
    assert result.returncode == 0, result.stderr
    assert "b.gguf: the fan-out's copy is wrong" in result.stdout and not (incoming / "b.gguf").exists()
    dest = tmp_path / "dest"
    assert (dest / "a.gguf").read_bytes() == data and (dest / "b.gguf").read_bytes() == data
    assert (dest / "a.gguf").stat().st_ino == (incoming / "a.gguf").stat().st_ino  # linked, not copied
    assert run_fetcher(tmp_path, s).returncode == 0  # stamped: a second run reads nothing


def test_auto_fans_out_what_two_units_of_the_deploy_serve_and_fills_the_cache_only_for_a_unit_lacking_it(monkeypatch):
    """In the example lab, thor-01 (router) and thor-02 (coder) both serve gpt-oss-120b: with the
    default `fetch: auto` it comes through the controller's fan-out when the deploy reaches both, and
    from the hub when it reaches thor-02 alone; Qwen3-8B, thor-01's only, always from the hub."""
    fleet = load_fleet(Path(__file__).parents[2] / "inventory" / "lab.py", secrets=False)
    monkeypatch.setattr(fanout, "controller_address", lambda units: "192.168.55.1")
    monkeypatch.setattr(fanout.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    thor01, thor02 = fleet.hosts["thor-01"], fleet.hosts["thor-02"]

    def routes(unit, reached):
        deploy_state = SimpleNamespace(activated_hosts=[SimpleNamespace(name=n) for n in reached])
        with ctx_state.use(deploy_state):
            return {name: deploy.route(unit, fleet, unit.config.models[name]) for name in ("gpt-oss-120b-gguf", "qwen3-8b-gguf")}

    both = routes(thor02, ["thor-01", "thor-02", "thor-03"])
    assert both["gpt-oss-120b-gguf"].serve_address == "192.168.55.1" and both["qwen3-8b-gguf"] is None
    assert routes(thor02, ["thor-02"]) == {"gpt-oss-120b-gguf": None, "qwen3-8b-gguf": None}  # --limit thor-02

    monkeypatch.setattr(deploy, "model_files", lambda entry, store: [hub.HubFile("a.gguf", 5, "a" * 64)])
    monkeypatch.setattr(deploy, "serve", lambda via: f"http://{via.serve_address}:{via.serve_port}")
    spec = deploy.model_spec("gpt-oss-120b-gguf", thor02.config, both["gpt-oss-120b-gguf"])
    assert spec["mirror"] == "http://192.168.55.1:7081/modelscope/ggml-org/gpt-oss-120b-GGUF/default"
    assert spec["incoming"] == "/models/.thorfleet-incoming/modelscope/ggml-org/gpt-oss-120b-GGUF/default"
    alone = deploy.model_spec("gpt-oss-120b-gguf", thor02.config, None)
    assert alone["mirror"] is None and alone["incoming"] is None and alone["key"] is None


def test_what_a_unit_lacks_is_read_in_one_command_and_a_plan_fills_no_cache(tmp_path, monkeypatch):
    """The deploy reads which models a unit lacks with one fact (ModelStates: the fetcher's own code on a
    real folder here); only those get the controller's cache filled, never for `thorfleet plan` (--dry)."""
    whole, torn = tmp_path / "whole", tmp_path / "torn"
    for folder in (whole, torn):
        folder.mkdir()
        (folder / "a.gguf").write_bytes(b"abc")
    files = [{"path": "a.gguf", "size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}]
    folders = [[str(whole), files], [str(torn), [{**files[0], "sha256": "0" * 64}]]]
    out = subprocess.run(["sh", "-c", ModelStates().command(folders)], capture_output=True, text=True, check=True)
    held = ModelStates().process(out.stdout.splitlines())
    assert [h["files"]["a.gguf"]["bytes"] for h in held] == [3, 3] and all(h["free"] > 0 for h in held)
    specs = [{"name": "m", "dest": str(whole), "files": files}, {"name": "n", "dest": str(torn), "files": folders[1][1]}]
    verified = [{"files": {"a.gguf": {"verified": True, "bytes": 3}}, "free": 1}, held[1]]  # "whole" as once stamped
    with ctx_host.use(FakeHost({"ModelStates": verified})):
        assert deploy.lacking(specs) == {"n"}
    filled = []
    monkeypatch.setattr(deploy, "ensure", lambda entry, listed, via: filled.append([f.path for f in listed]))
    deploy.cache_filled(specs[1], None, None)
    monkeypatch.setattr(sys, "argv", ["pyinfra", "inventory/lab.py", "deploy.py", "--dry", "--json"])  # thorfleet plan
    deploy.cache_filled(specs[1], None, None)
    assert filled == [["a.gguf"]]
