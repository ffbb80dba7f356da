"""Engine flags against the real `--help` of the pinned builds (tests/data/help/, refresh.py makes them)
and of the container engines (thorfleet/lab/standins/help/, captured as its README says)."""

from pathlib import Path

import pytest

from thorfleet.roles.engines.deploy import flags_to_check
from thorfleet.roles.engines.flags import check_args, parse_help
from thorfleet.fleet import load_fleet

HELP = Path(__file__).resolve().parents[1] / "data/help"
ROOT = Path(__file__).resolve().parents[2]
CONTAINER_HELP = ROOT / "thorfleet/lab/standins/help"
HELP_FILES = {"llama-server": HELP / "llama-server.txt", "whisper-server": HELP / "whisper-server.txt",
              "vllm": CONTAINER_HELP / "vllm.txt", "sglang": CONTAINER_HELP / "sglang.txt"}


@pytest.fixture(scope="module")
def helps():
    """Each kind's options, parsed from its captured help."""
    return {kind: parse_help(path.read_text()) for kind, path in HELP_FILES.items()}


def test_llama_server_options_as_its_help_prints_them(helps):
    llama = helps["llama-server"]
    assert llama["-fa"] is llama["--flash-attn"] and llama["--flash-attn"].choices == ["on", "off", "auto"]
    assert llama["--load-mode"].choices == ["auto", "none", "mmap", "mlock", "mmap+mlock", "dio"]
    assert not llama["--no-kv-offload"].takes_value and llama["--no-kv-offload"] is llama["--kv-offload"]
    assert llama["--api-key-file"].takes_value and llama["--alias"].takes_value
    assert "--no-mmap" not in llama and "--mlock" not in llama  # replaced by --load-mode at this commit
    assert len({id(o) for o in llama.values()}) > 150


def test_whisper_server_options_as_its_help_prints_them(helps):
    whisper = helps["whisper-server"]
    assert not whisper["--flash-attn"].takes_value and not whisper["-nfa"].takes_value
    assert whisper["--host"].takes_value and whisper["--port"].takes_value and whisper["-l"] is whisper["--language"]
    assert whisper["--inference-path"].takes_value


def test_every_rendered_command_line_of_the_example_lab_is_accepted(helps):
    """thor-01..03 as the inventory renders them: native engines' argv, and the server command in the image."""
    fleet = load_fleet(ROOT / "inventory/lab.py", secrets=False)
    checked = []
    for host in fleet.hosts.values():
        for name, engine in host.config.engines.items():
            flags = flags_to_check(host.config, name, engine)  # what the deploy checks: a router's models too
            options = helps[getattr(engine, "program", engine.kind)]
            for argv in [flags["argv"], *flags.get("presets", {}).values()]:
                args = argv[len(flags.get("entry") or argv[:1]):]
                assert check_args(engine.kind, args, options) == [], (host.name, name, argv)
            checked.append(engine.kind)
    assert {"llama-server", "llama-router", "whisper-server", "vllm", "sglang"} <= set(checked) and len(checked) >= 7


def test_vllm_options_as_argparse_prints_them(helps):
    """vLLM 0.10.2: BooleanOptionalAction pairs, `{a,b}` choices (commas inside stay whole), short aliases."""
    vllm = helps["vllm"]
    assert not vllm["--enforce-eager"].takes_value and vllm["--no-enforce-eager"] is vllm["--enforce-eager"]
    assert vllm["--dtype"].choices == ["auto", "bfloat16", "float", "float16", "float32", "half"]
    assert vllm["-O"] is vllm["--compilation-config"] and vllm["--max-model-len"].takes_value
    assert "--api-key" in vllm and "model_tag" not in vllm and len({id(o) for o in vllm.values()}) > 150
    problems = check_args("vllm", ["/models/q", "--dtype", "fp9", "--enforce-eager=true",
                                   "--max-model-len=4096", "--no-such-flag"], vllm)
    assert [(p.flag, p.reason) for p in problems] == [
        ("--dtype", "does not take 'fp9' (it takes auto, bfloat16, float, float16, float32, half)"),
        ("--enforce-eager", "takes no value"),
        ("--no-such-flag", "is not an option of this version"),
    ]


def test_sglang_options_as_argparse_prints_them(helps):
    """SGLang 0.5.3: the usage block above the options is not mistaken for options."""
    sglang = helps["sglang"]
    assert sglang["--model"] is sglang["--model-path"] and not sglang["--disable-cuda-graph"].takes_value
    assert "fa3" in sglang["--attention-backend"].choices and sglang["--cuda-graph-bs"].takes_value
    problems = check_args("sglang", ["--attention-backend", "fa9",
                                     "--enforce-eager"], sglang)
    assert [p.flag for p in problems] == ["--attention-backend", "--enforce-eager"]


# Triton's and Ollama's layouts, written here from their printing code (no capture: neither ships
# through PyPI): Triton's Usage() in src/command_line_parser.cc prints `  --flag <desc>` and a
# tab-indented text; Ollama's `serve` is a cobra command with only -h among its flags.
TRITON_HELP = """Usage: tritonserver [options]
  --help
	Print usage
  --model-repository <string>
	Path to model repository directory.
  --http-port <integer>
	The port for the server to listen on for HTTP
	requests.
  --exit-on-error <boolean>
	Exit the inference server if an error occurs during
	initialization.
"""
OLLAMA_HELP = """Start ollama

Usage:
  ollama serve [flags]

Aliases:
  serve, start

Flags:
  -h, --help   help for serve

Environment Variables:
      OLLAMA_DEBUG               Show additional debug information (e.g. OLLAMA_DEBUG=1)
      OLLAMA_HOST                IP Address for the ollama server (default 127.0.0.1:11434)
"""


def test_triton_flags_with_equals_and_booleans():
    triton = parse_help(TRITON_HELP)
    assert set(triton) == {"--help", "--model-repository", "--http-port", "--exit-on-error"}
    assert triton["--exit-on-error"].choices == ["true", "on", "1", "false", "off", "0"]
    args = ["--model-repository=/models", "--http-port", "8000", "--exit-on-error=maybe",
            "--grpc-port=8001"]
    assert [(p.flag, p.reason) for p in check_args("triton", args, triton)] == [
        ("--exit-on-error", "does not take 'maybe' (it takes true, on, 1, false, off, 0)"),
        ("--grpc-port", "is not an option of this version"),
    ]


def test_ollama_serve_takes_no_flags():
    ollama = parse_help(OLLAMA_HELP)
    assert set(ollama) == {"-h", "--help"}
    assert check_args("ollama", [], ollama) == []
    assert [p.flag for p in check_args("ollama", ["--port", "1"], ollama)] == ["--port"]


def test_seed_000_flags_are_caught_with_the_replacement(helps):
    llama = helps["llama-server"]
    problems = check_args("llama-server", ["--no-mmap", "--mlock", "--port", "8000"], llama)
    assert [p.flag for p in problems] == ["--no-mmap", "--mlock"]
    assert problems[0].reason == "is not an option of this version"
    assert problems[0].suggestion.startswith("it became --load-mode: write load-mode: none")


def test_values_are_checked_where_the_help_lists_them(helps):
    llama = helps["llama-server"]
    whisper = helps["whisper-server"]
    problems = check_args("llama-server", ["--flash-attn", "yes", "--load-mode", "mlock"], llama)
    assert [(p.flag, p.reason) for p in problems] == [("--flash-attn", "does not take 'yes' (it takes on, off, auto)")]
    assert check_args("llama-server", ["--port"], llama)[0].reason == "needs a value"
    assert [p.flag for p in check_args("whisper-server", ["--no-such-flag", "-fa"], whisper)] == ["--no-such-flag"]
