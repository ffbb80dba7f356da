"""Engine flags against the real `--help` of the pinned builds (tests/data/help/, refresh.py makes them)."""

from pathlib import Path

import pytest

from roles.engines.files import engine_argv
from roles.engines.flags import check_argv, parse_help
from thorfleet.inventory import load_fleet

HELP = Path(__file__).resolve().parents[1] / "data/help"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def llama():
    return parse_help((HELP / "llama-server.txt").read_text())


@pytest.fixture(scope="module")
def whisper():
    return parse_help((HELP / "whisper-server.txt").read_text())


def test_llama_server_options_as_its_help_prints_them(llama):
    assert llama["-fa"] is llama["--flash-attn"] and llama["--flash-attn"].choices == ["on", "off", "auto"]
    assert llama["--load-mode"].choices == ["auto", "none", "mmap", "mlock", "mmap+mlock", "dio"]
    assert not llama["--no-kv-offload"].takes_value and llama["--no-kv-offload"] is llama["--kv-offload"]
    assert llama["--api-key-file"].takes_value and llama["--alias"].takes_value
    assert "--no-mmap" not in llama and "--mlock" not in llama  # replaced by --load-mode at this commit
    assert len({id(o) for o in llama.values()}) > 150


def test_whisper_server_options_as_its_help_prints_them(whisper):
    assert not whisper["--flash-attn"].takes_value and not whisper["-nfa"].takes_value
    assert whisper["--host"].takes_value and whisper["--port"].takes_value and whisper["-l"] is whisper["--language"]
    assert whisper["--inference-path"].takes_value


def test_every_rendered_native_command_line_of_the_example_lab_is_accepted(llama, whisper):
    fleet = load_fleet(ROOT / "inventory/lab.py")
    checked = 0
    for host in fleet.hosts.values():
        for name, engine in host.config.engines.items():
            options = {"llama-server": llama, "whisper-server": whisper}.get(engine.kind)
            if options is not None:
                argv = engine_argv(host.config, name, engine)[0]
                assert check_argv(engine.kind, argv, options) == [], (host.name, name, argv)
                checked += 1
    assert checked >= 4


def test_seed_000_flags_are_caught_with_the_replacement(llama):
    problems = check_argv("llama-server", ["llama-server", "--no-mmap", "--mlock", "--port", "8000"], llama)
    assert [p.flag for p in problems] == ["--no-mmap", "--mlock"]
    assert problems[0].reason == "is not an option of this build"
    assert problems[0].suggestion.startswith("it became --load-mode: write load-mode: none")


def test_values_are_checked_where_the_help_lists_them(llama, whisper):
    problems = check_argv("llama-server", ["llama-server", "--flash-attn", "yes", "--load-mode", "mlock"], llama)
    assert [(p.flag, p.reason) for p in problems] == [("--flash-attn", "does not take 'yes' (it takes on, off, auto)")]
    assert check_argv("llama-server", ["llama-server", "--port"], llama)[0].reason == "needs a value"
    assert [p.flag for p in check_argv("whisper-server", ["w", "--no-such-flag", "-fa"], whisper)] == ["--no-such-flag"]
