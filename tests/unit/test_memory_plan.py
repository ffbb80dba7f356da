"""The memory plan against what llama-server itself reports: its slot and context lines on the H100
(CUDA) and the lab (CPU), and the KV and output buffers it allocates in the lab; the GGUF header
reader; the shipped example refused or kept by the plan."""

import http.server
import json
import re
import threading
from pathlib import Path

import gguf
import pytest

from thorfleet.fleet.schema import HostConfig
from thorfleet.lab.lab_models import QWEN3_8B
from thorfleet.roles.engines.memory import (COMPUTE_ALLOWANCE, GiB, MiB, Context, kv_bytes, llama_context, output_bytes,
                                            plan_problems)
from thorfleet.core.model_shape import ModelShape, Skipped, read_metadata, read_shape
from thorfleet.roles.models.shapes import ModelFacts, known, learn

DATA = Path(__file__).parent.parent / "data" / "memory"
TINY = ModelShape.from_json(json.loads((DATA / "shapes.json").read_text())["tiny-qwen2-f16.gguf"])
QWEN3_8B_SHAPE = ModelShape("qwen2", QWEN3_8B.layers, (QWEN3_8B.kv_heads,) * QWEN3_8B.layers, 128, 128, QWEN3_8B.context,
                            QWEN3_8B.width, QWEN3_8B.ffn, 151936)
SLOTS = re.compile(r"n_slots = (\d+), n_ctx_slot = (\d+), kv_unified = '(\w+)'")


def runs(log: str):
    """(args as the plan reads them, {figure: value}) for each `== llama-server FLAGS` block."""
    for block in (DATA / log).read_text().split("== llama-server ")[1:]:
        flags, _, lines = block.partition("\n")
        words = flags.split()
        args = {words[i][2:]: _number(words[i + 1]) for i in range(0, len(words), 2)}
        figures = {}
        if m := SLOTS.search(lines):
            figures["slots"] = (int(m[1]), int(m[2]), m[3] == "true")
        for name, pattern in (("kv", r"KV buffer size = +([\d.]+) MiB"), ("output", r"output buffer size = +([\d.]+) MiB"),
                              ("compute", r"compute buffer size = +([\d.]+) MiB")):
            if sizes := re.findall(pattern, lines):  # a CUDA build prints one line per device: the GPU's and the host's
                figures[name] = sum(float(size) for size in sizes) * MiB
        yield args, figures


def _number(word: str):
    return int(word) if word.lstrip("-").isdigit() else word


@pytest.mark.parametrize("log, shape", [("h100-qwen3-8b-cuda.log", QWEN3_8B_SHAPE), ("lab-tiny-qwen2-cpu.log", TINY)])
def test_slots_and_context_per_slot_are_what_llama_server_reported(log, shape):
    checked = 0
    for args, figures in runs(log):
        context = llama_context(args, shape)
        assert (context.slots, context.per_slot, context.unified) == figures["slots"], args
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("log, shape", [("h100-qwen3-8b-cuda-buffers.log", QWEN3_8B_SHAPE), ("lab-tiny-qwen2-cpu.log", TINY)])
def test_kv_and_output_buffers_are_what_llama_server_allocated(log, shape):
    checked = 0
    for args, figures in runs(log):
        context = llama_context(args, shape)
        assert kv_bytes(shape, context) == pytest.approx(figures["kv"], rel=0.005), args
        assert output_bytes(shape, context) == pytest.approx(figures["output"], rel=0.01), args
        assert figures["compute"] < COMPUTE_ALLOWANCE  # the plan's allowance covers what the build reserved
        checked += 1
    assert checked >= 1


def test_explicit_parallel_with_ctx_size_0_gives_each_slot_the_trained_context():
    coder = ModelShape("qwen3moe", 48, (4,) * 48, 128, 128, 262144, 2048, 6144, 151936)
    context = llama_context({"parallel": 14, "ctx-size": 0}, coder)
    assert (context.per_slot, context.cells) == (262144, 14 * 262144)
    assert kv_bytes(coder, context) / GiB == pytest.approx(336, abs=0.1)  # 96 KiB a token, issue 16's figure


def test_sliding_window_layers_keep_only_the_window():
    oss = ModelShape("gpt-oss", 36, (8,) * 36, 64, 64, 131072, 2880, 2880, 201088, sliding_window=128, swa_layers=18)
    context = Context(4, 32768, 4 * 32768, False, "ctx-size")
    per_cell = 8 * 128 * 2
    assert kv_bytes(oss, context, ubatch=1024) == per_cell * (18 * 4 * 32768 + 18 * 4 * 1280)


def write_gguf(path: Path, vocabulary: int = 5000) -> None:
    writer = gguf.GGUFWriter(str(path), "qwen3moe")
    writer.add_block_count(48)
    writer.add_context_length(262144)
    writer.add_embedding_length(2048)
    writer.add_feed_forward_length(6144)
    writer.add_head_count(32)
    writer.add_head_count_kv(4)
    writer.add_key_length(128)
    writer.add_value_length(128)
    writer.add_token_list([f"t{i}" for i in range(vocabulary)])
    writer.add_tensor("w", __import__("numpy").zeros((4, 4), dtype="float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_the_header_reader_reads_no_further_than_the_header(tmp_path):
    path = tmp_path / "m.gguf"
    write_gguf(path)
    with path.open("rb") as stream:
        metadata = read_metadata(stream)
        assert stream.tell() < path.stat().st_size
    assert metadata["tokenizer.ggml.tokens"] == Skipped(5000)
    shape = read_shape(path.open("rb"))
    assert (shape.layers, shape.kv_heads[0], shape.key_length, shape.trained_context, shape.vocabulary) == (48, 4, 128, 262144, 5000)


def test_learn_reads_the_header_by_range_over_http_and_remembers_it(tmp_path):
    (tmp_path / "files").mkdir()
    write_gguf(tmp_path / "files" / "m.gguf")
    ranges = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path / "files"), **kw)

        def do_GET(self):
            ranges.append(self.headers.get("Range"))
            super().do_GET()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = HostConfig.model_validate({
            "model_store": {"controller_cache": str(tmp_path / "cache")},
            "models": {"m": {"source": "url", "url": f"http://127.0.0.1:{server.server_port}/m.gguf", "size_bytes": 123}}})
        model, store = config.models["m"], config.model_store
        assert known(model, store) is None
        facts = learn(model, store)
    finally:
        server.shutdown()
    assert ranges == ["bytes=0-67108863"]
    assert facts.size_bytes == 123 and facts.shape.layers == 48
    assert known(model, store) == facts  # remembered: validate and the deploy need no network


THOR_02 = {"memory": {}, "models": {
    "coder": {"id": "unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF", "file": "c.gguf"},
    "oss": {"id": "ggml-org/gpt-oss-120b-GGUF", "file": "o.gguf"}}}
FACTS = {
    "c.gguf": ModelFacts(21_700_000_000, ModelShape("qwen3moe", 48, (4,) * 48, 128, 128, 262144, 2048, 6144, 151936)),
    "o.gguf": ModelFacts(63_400_000_000, ModelShape("gpt-oss", 36, (8,) * 36, 64, 64, 131072, 2880, 2880, 201088, 128, 18)),
}


def thor_02(args: dict):
    engines = {name: {"kind": "llama-server", "model": name, "port": port, "args": args}
               for name, port in (("coder", 8000), ("oss", 8001))}
    config = HostConfig.model_validate({**THOR_02, "engines": engines})
    return list(plan_problems(config, lambda model: FACTS[model.file]))


def test_seed_000s_flags_on_thor_02_are_refused_with_the_numbers():
    (path, reason), = thor_02({"ctx-size": 0, "parallel": 14, "gpu-layers": -1})
    assert path == ("engines",)
    assert "more than the 120.0 GiB this unit has for them" in reason
    assert "KV 336.0 (14 slots × 262144 tokens; trained context 262144 × 14 stream(s))" in reason


def test_the_shipped_thor_02_sizing_fits():
    assert thor_02({"ctx-size": 131072, "parallel": 4}) == []


def test_hosts_memory_learns_from_the_hub_then_validate_refuses_the_unit_that_cannot_fit(tmp_path, monkeypatch):
    """The whole path of a user: `hosts --memory` asks the hub (here a loopback server) for the
    header, shows the plan and fails; from then on `validate` refuses the unit without the network."""
    from click.testing import CliRunner

    from tests.unit.helpers import write_tree
    from thorfleet.commands import main

    (tmp_path / "hub").mkdir()
    write_gguf(tmp_path / "hub" / "coder.gguf")  # 48 layers × 4 KV heads × 128: 96 KiB a token, 262144 trained

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path / "hub"), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/coder.gguf"
    write_tree(tmp_path, {
        "inventory/fleet.py": "from thorfleet.inventory import attach_config\n\nllm = ['thor-02']\n\nattach_config(globals())\n",
        "group_vars/all.yml": {"model_store": {"controller_cache": str(tmp_path / "cache")},
                               "models": {"coder": {"source": "url", "url": url, "size_bytes": 21_700_000_000}}},
        "group_vars/llm.yml": {"engines": {"coder": {"kind": "llama-server", "model": "coder", "port": 8000,
                                                     "args": {"ctx-size": 0, "parallel": 14}}}},
    })
    monkeypatch.chdir(tmp_path)
    inventory = str(tmp_path / "inventory" / "fleet.py")
    runner = CliRunner()
    before = runner.invoke(main, ["validate", inventory])
    assert before.exit_code == 0 and "not in the memory plan" in before.output
    try:
        shown = runner.invoke(main, ["hosts", inventory, "--memory"], terminal_width=200)
    finally:
        server.shutdown()
    assert shown.exit_code == 1, shown.output
    assert "14 × 262144" in shown.output and "336.0 GiB" in shown.output and "DOES NOT FIT" in shown.output
    after = runner.invoke(main, ["validate", inventory])  # the hub is gone: the remembered facts are enough
    assert after.exit_code == 2
    assert "group_vars/llm.yml: engines: the engines need" in after.output and "KV 336.0 (14 slots × 262144" in after.output


def test_slots_bigger_than_the_trained_context_are_a_warning_once_the_model_is_known(tmp_path):
    config = HostConfig.model_validate({
        "model_store": {"controller_cache": str(tmp_path)},
        "models": {"tiny": {"id": "thorfleet-lab/tiny-qwen2-GGUF", "file": "tiny.gguf"}},
        "engines": {"q": {"kind": "llama-server", "model": "tiny", "port": 8000}}})
    from thorfleet.roles.engines.memory import plan_advice
    from thorfleet.roles.models.shapes import known

    facts_of = lambda model: known(model, config.model_store)  # noqa: E731
    assert [path for path, _ in plan_advice(config, facts_of)] == [("engines", "q", "model")]  # not known yet
    cached = tmp_path / "modelscope" / "thorfleet-lab" / "tiny-qwen2-GGUF" / "default"
    cached.mkdir(parents=True)
    write_gguf(cached / "tiny.gguf")  # trained on 262144: 8 slots × 8192 are fine
    assert list(plan_advice(config, facts_of)) == []
    small = config.model_copy(update={"engines": {"q": config.engines["q"].model_copy(update={"slot_context": 300000})}})
    (path, reason), = plan_advice(small, facts_of)
    assert path == ("engines", "q", "slot_context") and "trained on 262144" in reason
