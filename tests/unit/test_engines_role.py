"""The engines role's operations with fake facts: flags, restart discipline, removal, health address."""

from pathlib import Path

from roles.engines.config import LlamaServer, Triton, Vllm
from roles.engines.deploy import health_url
from roles.engines.facts import EngineState, InstalledEngines, ProgramHelp
from roles.engines.operations import engine_running, engines_removed, flags_accepted

from .fake_host import failure_of, run_operation

HELP = (Path(__file__).resolve().parents[1] / "data/help/llama-server.txt").read_text()
BINARY = "/opt/thorfleet/builds/llama.cpp/current/bin/llama-server"
FINGERPRINT = {"unit": "u1", "env": "e1", "build": "b1", "model": "m1"}


def program(help_text=HELP):
    return {"ProgramHelp": {"version": "version: 0.5.0-dev (build 1, commit 0c1e570)", "help": help_text}}


def test_accepted_flags_give_no_commands():
    commands, noops = run_operation(flags_accepted, program(), "qwen3-8b", "llama-server",
                                    [BINARY, "--model", "/m.gguf", "--port", "8000", "--load-mode", "mlock"])
    assert commands == []
    assert noops == ["engine qwen3-8b: llama-server (version: 0.5.0-dev (build 1, commit 0c1e570)) accepts its 6 arguments"]


def test_rejected_flags_fail_naming_flag_version_and_replacement():
    commands, _ = run_operation(flags_accepted, program(), "qwen3-8b", "llama-server", [BINARY, "--no-mmap", "--mlock"])
    message = failure_of(commands)
    assert message.startswith("engine qwen3-8b: llama-server (version: 0.5.0-dev (build 1, commit 0c1e570)) rejects its "
                              "command line, so its unit was left as it was: --no-mmap is not an option of this build; "
                              "it became --load-mode: write load-mode: none")
    assert "--mlock is not an option" in message


def test_missing_program_is_reported():
    commands, _ = run_operation(flags_accepted, {"ProgramHelp": None}, "qwen3-8b", "llama-server", [BINARY])
    assert failure_of(commands) == f"engine qwen3-8b: {BINARY} is not installed (the builds role installs it)"


def state(active=True, enabled=True, running=FINGERPRINT):
    return {"EngineState": {"active": active, "enabled": enabled, "running": running}}


def test_running_engine_with_the_same_fingerprint_is_left_alone():
    commands, noops = run_operation(engine_running, state(), "qwen3-8b", FINGERPRINT, "http://127.0.0.1:8000/health", 60)
    assert commands == [] and noops == ["engine qwen3-8b runs its current configuration"]


def test_a_changed_build_restarts_waits_for_health_and_records_the_fingerprint():
    new = {**FINGERPRINT, "build": "b2"}
    commands, _ = run_operation(engine_running, state(), "qwen3-8b", new, "http://127.0.0.1:8000/health", 60)
    assert commands[0] == ("echo 'thorfleet: (re)starting thorfleet-qwen3-8b: build changed' && "
                           "systemctl restart thorfleet-qwen3-8b.service")
    assert commands[1].startswith("for i in $(seq 60); do curl -fsS -o /dev/null http://127.0.0.1:8000/health && exit 0;")
    assert "journalctl -u thorfleet-qwen3-8b.service -n 20" in commands[1]
    assert commands[3][0] == "/var/lib/thorfleet/engines/qwen3-8b.json" and '"build": "b2"' in commands[3][1]


def test_a_stopped_or_disabled_engine_is_enabled_and_started():
    commands, _ = run_operation(engine_running, state(active=False, enabled=False), "w", FINGERPRINT, "http://x/health", 5)
    assert commands[0] == "systemctl enable thorfleet-w.service"
    assert commands[1].endswith("systemctl restart thorfleet-w.service") and "not running changed" in commands[1]


def test_removed_engines_are_stopped_and_their_files_deleted():
    commands, _ = run_operation(engines_removed, {"InstalledEngines": ["qwen3-8b", "whisper"]}, ["qwen3-8b"])
    assert commands[0].startswith("systemctl disable --now thorfleet-whisper.service 2>/dev/null; rm -f "
                                  "/etc/systemd/system/thorfleet-whisper.service /etc/thorfleet/engines/whisper.env")
    assert commands[-1] == "systemctl daemon-reload"
    commands, noops = run_operation(engines_removed, {"InstalledEngines": ["qwen3-8b"]}, ["qwen3-8b"])
    assert commands == [] and noops == ["no removed engines to clean up"]


def test_facts_parse_their_commands_output():
    assert InstalledEngines().process(["qwen3-8b", "whisper", ""]) == ["qwen3-8b", "whisper"]
    assert EngineState().process(["active=active", "enabled=enabled", 'running={"unit": "u"}']) == \
        {"active": True, "enabled": True, "running": {"unit": "u"}}
    assert EngineState().process(["active=inactive", "enabled=", "running=null"])["running"] is None
    assert ProgramHelp().process(["absent"]) is None
    assert ProgramHelp().process(["version: 1", "---", "-h, --help   usage"]) == {"version": "version: 1", "help": "-h, --help   usage"}


def test_health_is_asked_on_loopback_or_the_bound_address():
    assert health_url(LlamaServer(kind="llama-server", port=8000, bind="0.0.0.0")) == "http://127.0.0.1:8000/health"
    assert health_url(Vllm(kind="vllm", image="x:1", port=8000, bind="192.168.1.5", allow_unauthenticated=True)) == \
        "http://192.168.1.5:8000/health"
    assert health_url(Triton(kind="triton", image="x:1", port=8000)) == "http://127.0.0.1:8000/v2/health/ready"
