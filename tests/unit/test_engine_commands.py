"""Engine command lines built from the config: what each kind runs, and that secrets stay off them."""

import pytest

from thorfleet.fleet.errors import ConfigError
from thorfleet.fleet.schema import HostConfig
from thorfleet.roles.engines.commands import engine_argv

from .helpers import fleet_of

MODELS = {
    "gguf": {"id": "Qwen/Qwen3-8B-GGUF", "file": "Qwen3-8B-Q5_K_M.gguf"},
    "st": {"id": "Qwen/Qwen3-8B"},
    "repo": {"id": "acme/triton-models"},
}


def argv(name, engine, **extra):
    config = HostConfig.model_validate({"models": MODELS, "engines": {name: engine}, **extra})
    assert config.problems() == []
    return [word for part in engine_argv(config, name, config.engines[name]) for word in part]


def test_llama_server_with_key_file_and_thinking_off():
    words = argv("q", {"kind": "llama-server", "model": "gguf", "port": 8000, "bind": "0.0.0.0",
                       "api_key": {"env": "KEY"}, "thinking": False, "args": {"ctx-size": 0}})
    assert words[:9] == ["/opt/thorfleet/builds/llama.cpp/current/bin/llama-server",
                         "--model", "/models/Qwen/Qwen3-8B-GGUF/Qwen3-8B-Q5_K_M.gguf",
                         "--host", "0.0.0.0", "--port", "8000", "--alias", "q"]
    assert words[words.index("--api-key-file") + 1] == "/etc/thorfleet/engines/q.api-key"
    assert "--api-key" not in words
    assert words[words.index("--reasoning-budget") + 1] == "0"
    assert words[-2:] == ["--ctx-size", "0"]  # the user's args come last
    assert "--parallel" not in words  # a ctx-size the user wrote keeps llama.cpp's own slot count


def test_builds_root_moves_the_binary():
    words = argv("w", {"kind": "whisper-server", "model": "gguf", "port": 8080}, builds={"root": "/srv/builds"})
    assert words[0] == "/srv/builds/whisper.cpp/current/bin/whisper-server"


def test_vllm_key_is_passed_by_name_only():
    words = argv("v", {"kind": "vllm", "image": "vllm/vllm-openai:v0.20.0", "model": "st", "port": 8000,
                       "bind": "0.0.0.0", "api_key": {"file": "/secrets/key"}, "sampling": {"temperature": 0.7}})
    assert words[words.index("-e") + 1] == "VLLM_API_KEY"
    assert not any("secrets" in w for w in words)
    assert words[words.index("vllm/vllm-openai:v0.20.0") + 1:][:3] == ["vllm", "serve", "/models/Qwen/Qwen3-8B"]
    assert words[words.index("--override-generation-config") + 1] == '{"temperature":0.7}'
    assert words[words.index("--gpu-memory-utilization") + 1] == "0.8"
    assert ["--runtime", "nvidia"] == words[words.index("--runtime"):words.index("--runtime") + 2]
    assert "/models/Qwen/Qwen3-8B:/models/Qwen/Qwen3-8B:ro" in words


def test_chat_template_outside_the_model_is_mounted():
    words = argv("s", {"kind": "sglang", "image": "lmsysorg/sglang:v0.5.0", "model": "st", "port": 30000,
                       "chat_template": "/srv/templates/qwen3_nonthinking.jinja", "thinking": False})
    assert "/srv/templates/qwen3_nonthinking.jinja:/srv/templates/qwen3_nonthinking.jinja:ro" in words
    assert words[words.index("--chat-template") + 1] == "/srv/templates/qwen3_nonthinking.jinja"
    assert "--mem-fraction-static" in words


def test_ollama_and_triton():
    ollama = argv("o", {"kind": "ollama", "image": "ollama/ollama:0.12.0", "port": 11434})
    assert "OLLAMA_HOST=127.0.0.1:11434" in ollama and ollama[-2:] == ["ollama", "serve"]
    triton = argv("t", {"kind": "triton", "image": "nvidia/tritonserver:25.08-py3", "model": "repo", "port": 9000})
    assert "--model-repository=/models/acme/triton-models" in triton
    assert triton[triton.index("--grpc-port") + 1] == "8001"


def test_during_a_key_rotation_a_llama_server_reads_the_new_key_and_the_previous_one(monkeypatch):
    """docs/gateway.md's engine-key rotation: one key a line in its key file (as `--api-key-file` reads
    them), the new one first; a single key keeps the fingerprint it had, so no engine restarts for it."""
    from thorfleet.roles.engines.deploy import digest, key_file

    monkeypatch.setenv("NEW_KEY", "new-key-456")
    monkeypatch.setenv("OLD_KEY", "old-key-123")
    engine = {"kind": "llama-server", "model": "gguf", "port": 8000, "api_key": {"env": "NEW_KEY"}}
    rotating = HostConfig.model_validate({"models": MODELS, "engines": {"q": {**engine, "previous_api_keys": [{"env": "OLD_KEY"}]}}})
    keys = "\n".join(rotating.engines["q"].accepted_keys())
    assert keys == "new-key-456\nold-key-123"
    written = key_file("q", rotating.engines["q"], keys)
    assert written is not None and written.path == "/etc/thorfleet/engines/q.api-key"
    assert written.content == "new-key-456\nold-key-123\n"
    single = HostConfig.model_validate({"models": MODELS, "engines": {"q": engine}}).engines["q"]
    assert single.accepted_keys() == ["new-key-456"] and digest("\n".join(single.accepted_keys())) == digest("new-key-456")


@pytest.mark.parametrize("engine, reason", [
    ({"kind": "llama-server", "model": "gguf", "port": 8000}, "they are accepted besides api_key: set api_key \\(the new key\\) too"),
    ({"kind": "vllm", "image": "vllm/vllm-openai:v0.20.0", "model": "st", "port": 8000, "api_key": {"env": "K"}},
     "vllm takes a single key \\(VLLM_API_KEY\\): only kinds that read a key file accept previous ones"),
])
def test_previous_engine_keys_need_a_new_key_and_a_kind_that_reads_a_key_file(tmp_path, engine, reason):
    with pytest.raises(ConfigError, match=r"all.yml: engines.e.previous_api_keys: " + reason):
        fleet_of(tmp_path, {"group_vars/all.yml": {"models": MODELS, "engines": {"e": {**engine, "previous_api_keys": [{"env": "OLD"}]}}}})
