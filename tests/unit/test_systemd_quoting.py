"""Command lines and environment files quoted so that systemd hands the exact config strings over."""

import pytest

from thorfleet.roles.engines.commands import flag_args
from thorfleet.core.systemd import exec_line, quote_env_value, quote_exec_arg


@pytest.mark.parametrize("arg, quoted", [
    ("--ctx-size", "--ctx-size"),
    ("/models/a.gguf", "/models/a.gguf"),
    ("two words", '"two words"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("it's", '"it\'s"'),
    ("100%", '"100%%"'),
    ("50% off", '"50%% off"'),
    ("$HOME", '"$$HOME"'),
    ("line\nbreak", '"line\\nbreak"'),
    ("back\\slash", '"back\\\\slash"'),
    ('{"top_p":0.8}', '"{\\"top_p\\":0.8}"'),
])
def test_exec_arguments_are_quoted_for_systemd(arg, quoted):
    assert quote_exec_arg(arg) == quoted


def test_exec_line_puts_each_part_and_flag_on_its_own_line():
    line = exec_line([["/usr/bin/docker", "run", "--rm", "-v", "/a:/a:ro"], ["img:1"], ["vllm", "serve", "/m", "--port", "8000"]])
    assert line.split(" \\\n    ") == ["/usr/bin/docker run", "--rm", "-v /a:/a:ro", "img:1", "vllm serve /m", "--port 8000"]


def test_negative_numbers_stay_with_their_flag():
    assert exec_line([["/bin/x", "--gpu-layers", "-1"]]) == "/bin/x \\\n    --gpu-layers -1"


@pytest.mark.parametrize("value, quoted", [
    ("plain", '"plain"'),
    ('a "b"', '"a \\"b\\""'),
    ("$PATH", '"\\$PATH"'),
    ("back\\slash", '"back\\\\slash"'),
    ("`cmd`", '"\\`cmd\\`"'),
])
def test_environment_values_are_quoted(value, quoted):
    assert quote_env_value(value) == quoted


def test_flag_args_forms():
    args = {"jinja": True, "no-mmap": False, "ctx-size": 0, "temp": 0.7, "lora": ["a.gguf", "b.gguf"],
            "override-generation-config": {"top_p": 0.95, "temperature": 0.8}}
    assert flag_args(args) == [
        "--jinja", "--ctx-size", "0", "--temp", "0.7", "--lora", "a.gguf", "--lora", "b.gguf",
        "--override-generation-config", '{"temperature":0.8,"top_p":0.95}',
    ]


def test_a_percent_in_a_unit_setting_is_doubled_so_systemd_reads_it_literally():
    from thorfleet.core.systemd import unit_value

    assert unit_value("thorfleet llama-server 100%") == "thorfleet llama-server 100%%"
    with pytest.raises(ValueError):
        unit_value("one\ntwo")
