"""Lab pieces that need neither root nor units: names, the controller's HTTP server, the stand-in's CLI."""

import hashlib
import importlib.util
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from thorfleet.commands import main
from thorfleet.lab import layout
from thorfleet.lab.http_server import make_server

STANDINS = Path(__file__).resolve().parents[2] / "thorfleet" / "lab" / "standins"


def test_unit_names_and_addresses():
    assert (layout.unit("sim-02").address, layout.unit("sim-02").netns, layout.unit(3).name) == \
        ("10.231.0.12", "thorfleet-sim-02", "sim-03")
    for bad in ("thor-01", "sim-", "sim-x", "sim-100", "sim-00"):
        with pytest.raises(ValueError, match="not a lab unit name"):
            layout.unit(bad)


def test_lab_commands_say_in_one_line_that_they_need_root(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(main, ["lab", "status"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: the lab needs root (network namespaces, mounts, systemd-nspawn): run it with sudo or as root"


def test_a_link_rate_is_tcs_and_a_bad_one_is_refused_before_anything_changes(monkeypatch):
    from thorfleet.lab.network import link_rate

    assert (link_rate("100mbit"), link_rate("1gbit"), link_rate("512kbit")) == (10**8, 10**9, 512_000)
    monkeypatch.setattr("os.geteuid", lambda: 1000)  # refused before the lab even asks for root
    for bad in ("fast", "100", "100MB", "0mbit", "1.5gbit"):
        result = CliRunner().invoke(main, ["lab", "up", "--link", bad])
        assert result.exit_code == 1 and f"--link '{bad}': give a rate such as 100mbit, 1gbit or 512kbit" in result.output


@pytest.fixture
def served(tmp_path):
    models, wheels, files = tmp_path / "models", tmp_path / "wheels", tmp_path / "files"
    (models / "lab/tiny").mkdir(parents=True)
    (models / "lab/tiny/model.gguf").write_bytes(b"0123456789")
    (models / "lab/tiny/sub").mkdir()
    (models / "lab/tiny/sub/README.md").write_text("hi")
    wheels.mkdir()
    (wheels / "jetson_stats-7.2.2-py3-none-any.whl").write_bytes(b"wheel")
    files.mkdir()
    (tmp_path / "secret").write_text("outside")
    server = make_server("127.0.0.1", 0, models, wheels, files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _get(url, **headers):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_modelscope_file_listing(served):
    status, _, body = _get(f"{served}/api/v1/models/lab/tiny/repo/files?Revision=master&Recursive=True")
    assert status == 200
    files = {f["Path"]: f for f in json.loads(body)["Data"]["Files"]}
    assert set(files) == {"model.gguf", "sub/README.md"}
    assert files["model.gguf"]["Size"] == 10
    assert files["model.gguf"]["Sha256"] == hashlib.sha256(b"0123456789").hexdigest()
    assert files["model.gguf"]["Type"] == "blob"


def test_modelscope_download_whole_and_resumed(served):
    url = f"{served}/api/v1/models/lab/tiny/repo?Revision=master&FilePath=model.gguf"
    assert _get(url)[::2] == (200, b"0123456789")
    status, headers, body = _get(url, Range="bytes=4-")
    assert (status, body, headers["Content-Range"]) == (206, b"456789", "bytes 4-9/10")
    assert _get(url, Range="bytes=10-")[0] == 416


@pytest.mark.parametrize("path", [
    "/api/v1/models/lab/other/repo/files?Revision=master",
    "/api/v1/models/lab/tiny/repo/files?Revision=v2",
    "/api/v1/models/lab/tiny/repo?Revision=master&FilePath=../../secret",
    "/files/../secret",
])
def test_missing_or_outside_paths_are_404(served, path):
    status, _, body = _get(served + path)
    assert status == 404 and json.loads(body)["Success"] is False


def test_package_index_lists_wheels_with_their_hashes(served):
    status, _, body = _get(f"{served}/simple/jetson-stats/")
    digest = hashlib.sha256(b"wheel").hexdigest()
    assert status == 200
    assert f'href="/wheels/jetson_stats-7.2.2-py3-none-any.whl#sha256={digest}"' in body.decode()
    assert _get(f"{served}/simple/")[2] == b'<a href="/simple/jetson-stats/">jetson-stats</a><br>\n'
    assert _get(f"{served}/simple/nothing/")[0] == 404


def _standin():
    spec = importlib.util.spec_from_file_location("openai_standin", STANDINS / "openai_standin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, env, expected", [
    (["vllm", "serve", "/models/q", "--served-model-name", "qwen3", "--host", "0.0.0.0", "--port", "8000"], {},
     ("0.0.0.0", 8000, "qwen3", "k")),
    (["python3", "-m", "sglang.launch_server", "--model-path", "/models/q", "--host", "127.0.0.1", "--port", "30000"], {},
     ("127.0.0.1", 30000, "/models/q", "k")),
    (["tritonserver", "--model-repository=/models/t", "--http-address", "127.0.0.1", "--http-port", "8002"], {},
     ("127.0.0.1", 8002, "standin", "k")),
    (["ollama", "serve"], {"OLLAMA_HOST": "127.0.0.1:11434"}, ("127.0.0.1", 11434, "standin", "k")),
])
def test_standin_takes_each_engines_own_command_line(monkeypatch, argv, env, expected):
    monkeypatch.setenv("VLLM_API_KEY", "k")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _standin().settings(argv) == expected


def test_standin_prints_its_engines_captured_help_and_refuses_flags_that_help_does_not_name(capsys):
    standin = _standin()
    assert standin.main(["vllm", "serve", "--help"]) == 0
    assert capsys.readouterr().out == (STANDINS / "help/vllm.txt").read_text()
    assert standin.main(["python3", "-m", "sglang.launch_server", "--model-path", "/m", "--cuda-graph-bs", "2",
                         "--max-num-batched", "8"]) == 2
    assert capsys.readouterr().err == "sglang: error: unrecognized arguments: --max-num-batched\n"
    assert standin.main(["tritonserver", "--help"]) == 1  # no capture of Triton's help
    assert "no captured --help of triton" in capsys.readouterr().err


def test_long_commands_report_their_time_and_fail_with_their_last_words():
    from thorfleet.lab.system import LabError, run_showing

    assert run_showing("counting", "sh", "-c", "echo one; sleep 0.2; echo two") >= 0.2
    with pytest.raises(LabError, match=r"failed \(3\): a / b"):
        run_showing("failing", "sh", "-c", "echo a; echo b >&2; exit 3")
