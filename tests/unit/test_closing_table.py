"""The deploy's closing table: what the operations record while the deploy is planned, and the table
from that and what each unit holds."""

from pathlib import Path

from rich.console import Console

from thorfleet.core import closing_table
from thorfleet.core.closing_table import ModelFolder, Placements, Planned, placements
from thorfleet.roles.builds.files import build_id
from thorfleet.roles.builds.operations import engine_build
from thorfleet.roles.models.operations import model

from .fake_host import fake_state, run_operation
from .test_builds_role import CUDA, ROOT, installed, llama


def model_facts(verified: dict[str, bool]) -> dict:
    return {"ModelState": {"files": {p: {"verified": v, "bytes": 0} for p, v in verified.items()}, "free": 10 << 30}}


def model_spec(name: str, files: list[dict]) -> dict:
    return {"name": name, "dest": "/models/m", "source": "url", "id": None, "revision": None, "url": None,
            "mirror": None, "cli": {}, "files": files}


def test_operations_record_what_they_will_place_and_nothing_when_it_is_there_already():
    deploy = fake_state()
    files = [{"path": "a.gguf", "size": 5, "sha256": None}, {"path": "b.json", "size": None, "sha256": None}]
    run_operation(model, model_facts({"a.gguf": False, "b.json": True}), model_spec("m", files), {}, pyinfra_state=deploy)
    run_operation(model, model_facts({"a.gguf": True}), model_spec("done", files[:1]), {}, pyinfra_state=deploy)
    build = llama(ref="b7000")
    run_operation(engine_build, installed("old", ["old"]), "llama_cpp", build, ROOT, 2, CUDA, pyinfra_state=deploy)
    current = llama()
    run_operation(engine_build, installed(build_id(current), [build_id(current)]), "llama_cpp", current, ROOT, 2, CUDA,
                  pyinfra_state=deploy)
    assert placements(deploy).from_hubs == 0 and placements(deploy).units == {"thor-01": Planned(
        builds_root=ROOT, models={"/models/m": ModelFolder({"m"}, {"a.gguf": 5})}, builds={"llama.cpp": build_id(build)})}
    assert len(deploy.handlers) == 1 and isinstance(deploy.handlers[0], closing_table.ClosingTable)  # hooked once


def shown(rows) -> list[str]:
    console = Console(record=True, width=200)
    console.print(rows)
    return [" ".join(row.split()) for row in console.export_text().splitlines()]


def test_the_table_says_where_each_units_artifacts_came_from_and_what_crossed_the_uplink():
    record = Placements(from_hubs=301_000_000)
    for unit in ("thor-01", "thor-02", "thor-03"):
        record.units[unit] = Planned(builds_root=ROOT, models={
            "/models/m": ModelFolder({"m", "m-long"}, {"a.gguf": 300_000_000, "b.json": 1_000_000})})
        record.started[(unit, "models")], record.ended[(unit, "models")] = 10.0, 30.0
    record.ended[("thor-03", "models")] = 42.5
    record.units["thor-01"].builds["llama.cpp"] = "b1"
    record.units["thor-02"].builds["llama.cpp"] = "b1"
    record.started[("thor-02", "builds")], record.ended[("thor-02", "builds")] = 1.0, 4.0

    def models(**origin):
        return [{"name": f"/models/m/{path.replace('_', '.')}", "from": where} for path, where in origin.items()]

    held = {"thor-01": {"models": models(a_gguf="fan-out", b_json="fan-out"),
                        "builds": [{"name": "llama.cpp", "id": "b1", "bytes": 52_000_000, "from": "compiled here"}]},
            "thor-02": {"models": models(a_gguf="fan-out", b_json="controller's cache"),
                        "builds": [{"name": "llama.cpp", "id": "b0", "bytes": 1, "from": "compiled here"}]},
            "thor-03": {"models": models(b_json="hub")}}  # a.gguf never arrived there
    rows, line = closing_table.table(record, held)
    lines = shown(rows)
    assert "│ thor-01 │ model m, m-long │ 2 │ 301.0 │ fan-out 2 │ 20.0 s │" in lines
    assert "│ thor-01 │ llama.cpp b1 │ - │ 52.0 │ compiled here │ - │" in lines
    assert "│ thor-02 │ model m, m-long │ 2 │ 301.0 │ controller's cache 1, fan-out 1 │ 20.0 s │" in lines
    assert "│ thor-02 │ llama.cpp b1 │ - │ - │ not placed │ 3.0 s │" in lines  # it still runs b0
    assert "│ thor-03 │ model m, m-long │ 2 │ 301.0 │ hub 1, not placed 1 │ 32.5 s │" in lines
    assert line == ("models over the uplink: 302.0 MB (the controller's cache from the hubs 301.0 MB, units from the "
                    "internet 1.0 MB); the models role took 32.5 s from the first unit's start to the last unit's end")


def test_builds_alone_have_no_uplink_line():
    record = Placements(units={"thor-01": Planned(builds_root=ROOT, builds={"whisper.cpp": "w1"})})
    held = {"thor-01": {"builds": [{"name": "whisper.cpp", "id": "w1", "bytes": 3_000_000,
                                    "from": "the fleet's build (copied)"}]}}
    rows, line = closing_table.table(record, held)
    assert "│ thor-01 │ whisper.cpp w1 │ - │ 3.0 │ the fleet's build (copied) │ - │" in shown(rows) and line == ""


def test_images_have_rows_with_their_docker_size_and_how_they_came():
    record = Placements(units={"thor-01": Planned(images={
        "lab/vllm:standin": "archive (fan-out)", "nvcr.io/nvidia/vllm@sha256:" + "a" * 64: "pulled (the mirror)",
        "ubuntu:24.04": "pulled (a registry)"})}, started={("thor-01", "docker"): 1.0}, ended={("thor-01", "docker"): 4.5})
    held = {"thor-01": {"images": [{"name": "lab/vllm:standin", "size": "23.1MB", "id": "sha256:1"},
                                   {"name": "nvcr.io/nvidia/vllm:<none>", "size": "19.2GB", "id": "sha256:2"}]}}
    rows, line = closing_table.table(record, held)
    lines = shown(rows)
    assert "│ thor-01 │ image lab/vllm:standin │ - │ 23.1 │ archive (fan-out) │ 3.5 s │" in lines
    assert f"│ thor-01 │ image nvcr.io/nvidia/vllm@sha256:{'a' * 64} │ - │ 19200.0 │ pulled (the mirror) │ 3.5 s │" in lines
    assert "│ thor-01 │ image ubuntu:24.04 │ - │ - │ not placed │ 3.5 s │" in lines and line == ""  # its pull failed


def test_the_listing_reads_model_folders_outside_the_store(tmp_path: Path):
    import json
    import subprocess
    import sys

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / ".thorfleet-verified.json").write_text(json.dumps({"x.gguf": {"size": 3, "sha256": "cd" * 32, "from": "hub"}}))
    command = closing_table.listing(None, None, (str(folder),))
    found = json.loads(subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, check=True,
                                      env={"PATH": "/nonexistent"}).stdout)
    assert found["models"] == [{"name": str(folder / "x.gguf"), "bytes": 3, "id": "cd" * 6, "from": "hub"}]
    assert found["builds"] == []


def test_a_units_time_in_a_role_runs_from_its_first_operation_there_to_its_last(monkeypatch):
    """pyinfra calls the start hook for hosts that skip an operation too: those are not counted."""
    from types import SimpleNamespace

    clock = iter([10.0, 11.0, 50.0, 52.0, 60.0])
    monkeypatch.setattr(closing_table.time, "monotonic", lambda: next(clock))
    class Host:  # pyinfra's hosts are hashable (state.ops is keyed by them)
        def __init__(self, name: str) -> None:
            self.name = name

    builder, copier = Host("thor-01"), Host("thor-02")
    names = {"build": {"builds | Build llama.cpp"}, "copy": {"builds | Copy llama.cpp"}, "other": {"Revision recorded"}}
    deploy = fake_state()
    deploy.get_op_meta = lambda op_hash: SimpleNamespace(names=names[op_hash])
    deploy.ops = {builder: {"build": 1, "other": 1}, copier: {"copy": 1, "other": 1}}
    hooks, record = closing_table.ClosingTable, placements(deploy)
    hooks.operation_host_start(deploy, builder, "build")  # 10
    hooks.operation_host_start(deploy, copier, "build")  # skipped there: not counted, no clock read
    hooks.operation_host_success(deploy, builder, "build")  # 11
    hooks.operation_host_start(deploy, copier, "copy")  # 50
    hooks.operation_host_error(deploy, copier, "copy")  # 52
    hooks.operation_host_start(deploy, builder, "other")  # not a role with artifacts
    assert record.took("thor-01", "builds") == "1.0 s" and record.took("thor-02", "builds") == "2.0 s"
    assert record.took("thor-01", "models") == "-"
