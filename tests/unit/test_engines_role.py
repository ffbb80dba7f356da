"""The engines role's operations with fake facts: flags, restart discipline, removal, health address."""

import subprocess
from pathlib import Path

from thorfleet.roles.engines.kinds import LlamaServer, Triton, Vllm
from thorfleet.roles.engines.deploy import health_url
from thorfleet.roles.engines.facts import EngineState, ImageHelp, InstalledEngines, ProgramHelp
from thorfleet.core.accounts import Accounts
from thorfleet.roles.engines.operations import engine_running, engines_removed, flags_accepted, service_user

from .fake_host import failure_of, run_operation

HELP = (Path(__file__).resolve().parents[1] / "data/help/llama-server.txt").read_text()
BINARY = "/opt/thorfleet/builds/llama.cpp/current/bin/llama-server"
FINGERPRINT = {"unit": "u1", "env": "e1", "build": "b1", "model": "m1"}


def program(help_text=HELP, running=None):
    return {"ProgramHelp": {"version": "version: 0.5.0-dev (build 1, commit 0c1e570)", "help": help_text},
            **state(running=running)}


def test_accepted_flags_give_no_commands():
    commands, noops = run_operation(flags_accepted, program(), "qwen3-8b", "llama-server",
                                    [BINARY, "--model", "/m.gguf", "--port", "8000", "--load-mode", "mlock"], FINGERPRINT)
    assert commands == []
    assert noops == ["engine qwen3-8b: llama-server (version: 0.5.0-dev (build 1, commit 0c1e570)) accepts its 6 arguments"]


def test_rejected_flags_fail_naming_flag_version_and_replacement():
    commands, _ = run_operation(flags_accepted, program(), "qwen3-8b", "llama-server", [BINARY, "--no-mmap", "--mlock"],
                                FINGERPRINT)
    message = failure_of(commands)
    assert message.startswith("engine qwen3-8b: llama-server (version: 0.5.0-dev (build 1, commit 0c1e570)) rejects its "
                              "command line, so its unit was left as it was: --no-mmap is not an option of this version; "
                              "it became --load-mode: write load-mode: none")
    assert "--mlock is not an option" in message


def test_an_engine_running_this_fingerprint_is_not_checked_again():
    """Not even read: the check belongs to (re)starts, and this engine will not be restarted."""
    facts = {**state(running=FINGERPRINT), "ProgramHelp": None}
    commands, noops = run_operation(flags_accepted, facts, "qwen3-8b", "llama-server", [BINARY, "--bad"], FINGERPRINT)
    assert commands == [] and noops == ["engine qwen3-8b: runs this command line already (checked before it started)"]
    commands, _ = run_operation(flags_accepted, {**state(active=False), "ProgramHelp": None}, "qwen3-8b",
                                "llama-server", [BINARY], FINGERPRINT)
    assert "is not installed" in failure_of(commands)


def test_missing_program_is_reported():
    commands, _ = run_operation(flags_accepted, {**state(running=None), "ProgramHelp": None}, "qwen3-8b", "llama-server",
                                [BINARY], FINGERPRINT)
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
    assert EngineState().process(["active=active", "enabled=enabled", 'running={"unit": "u'])["running"] is None
    assert ProgramHelp().process(["absent"]) is None
    assert ProgramHelp().process(["version: 1", "---", "-h, --help   usage"]) == {"version": "version: 1", "help": "-h, --help   usage"}


def test_health_is_asked_on_loopback_or_the_bound_address():
    assert health_url(LlamaServer(kind="llama-server", port=8000, bind="0.0.0.0")) == "http://127.0.0.1:8000/health"
    assert health_url(Vllm(kind="vllm", image="x:1", port=8000, bind="192.168.1.5", allow_unauthenticated=True)) == \
        "http://192.168.1.5:8000/health"
    assert health_url(Triton(kind="triton", image="x:1", port=8000)) == "http://127.0.0.1:8000/v2/health/ready"


VLLM_HELP = (Path(__file__).resolve().parents[2] / "thorfleet/lab/standins/help/vllm.txt").read_text()
IMAGE = "nvcr.io/nvidia/vllm:25.10-py3"


def image_help(help_text=VLLM_HELP):
    return {"ImageHelp": {"version": f"{IMAGE} (0123456789ab)", "help": help_text}, **state(running=None)}


def test_container_flags_are_checked_against_the_images_entry_command():
    argv = ["vllm", "serve", "/models/q", "--port", "8000", "--enforce-eager", "--max-model-len", "32768"]
    commands, noops = run_operation(flags_accepted, image_help(), "qwen3-vllm", "vllm", argv, FINGERPRINT,
                                    image=IMAGE, entry=["vllm", "serve"])
    assert commands == [] and noops == [f"engine qwen3-vllm: vllm ({IMAGE} (0123456789ab)) accepts its 6 arguments"]
    commands, _ = run_operation(flags_accepted, image_help(), "qwen3-vllm", "vllm", argv + ["--max-num-batched"],
                                FINGERPRINT, image=IMAGE, entry=["vllm", "serve"])
    assert failure_of(commands) == (f"engine qwen3-vllm: vllm ({IMAGE} (0123456789ab)) rejects its command line, so its "
                                    "unit was left as it was: --max-num-batched is not an option of this version")


def test_an_image_that_lists_no_options_or_is_absent_fails_the_host():
    commands, _ = run_operation(flags_accepted, image_help("Traceback (most recent call last):\nRuntimeError: no GPU"),
                                "q", "vllm", ["vllm", "serve", "--port", "1"], FINGERPRINT, image=IMAGE, entry=["vllm", "serve"])
    assert failure_of(commands).endswith("`vllm serve --help` listed no options, so nothing could be checked (it printed: "
                                         "Traceback (most recent call last): | RuntimeError: no GPU)")
    commands, _ = run_operation(flags_accepted, {"ImageHelp": None, **state(running=None)}, "q", "vllm", ["vllm", "serve"],
                                FINGERPRINT, image=IMAGE, entry=["vllm", "serve"])
    assert failure_of(commands) == f"engine q: image {IMAGE} is not on the unit (the engines role pulls or loads it first)"


def fake_docker(tmp_path, script):
    (tmp_path / "docker").write_text("#!/bin/sh\n" + script)
    (tmp_path / "docker").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    return lambda command: subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True).stdout


def test_image_help_runs_the_entry_command_in_the_image_and_asks_newer_vllm_for_all(tmp_path):
    """The fact's own shell, with a docker that answers as an image would: `--help` naming `--help=all`
    (newer vLLM) makes it ask for that; the version is the image with its short ID."""
    run = fake_docker(tmp_path, """
case "$1" in
  image) echo sha256:0123456789abcdef0123 ;;
  run) shift 6; echo "args: $*"
       case "$*" in *--help=all) echo "  --port PORT   Port." ;; *) echo 'Use `--help=all` to show all' ;; esac ;;
esac
""")
    output = run(ImageHelp().command(IMAGE, ["vllm", "serve"]))
    found = ImageHelp().process(output.splitlines())
    assert found["version"] == f"{IMAGE} (0123456789ab)"
    assert found["help"] == "args: nvcr.io/nvidia/vllm:25.10-py3 vllm serve --help=all\n  --port PORT   Port."
    absent = fake_docker(tmp_path, "exit 1\n")
    assert ImageHelp().process(absent(ImageHelp().command(IMAGE, ["vllm", "serve"])).splitlines()) is None


def accounts(user=None, groups=("video",)):
    return {"Accounts": {"users": {"thorfleet": user}, "groups": {"video": "video" in groups, "render": "render" in groups}}}


def test_service_user_is_created_in_the_groups_the_unit_has():
    commands, _ = run_operation(service_user, accounts(None, groups=("video",)), "thorfleet", ["render", "video"])
    assert commands == ["useradd --system --shell /usr/sbin/nologin --home-dir /var/lib/thorfleet --no-create-home "
                        "--groups video thorfleet"]


def test_service_user_gets_missing_groups_and_then_nothing():
    commands, _ = run_operation(service_user, accounts(["thorfleet"], groups=("video", "render")), "thorfleet", ["render", "video"])
    assert commands == ["usermod --append --groups render,video thorfleet"]
    commands, noops = run_operation(service_user, accounts(["thorfleet", "render", "video"], groups=("video", "render")),
                                    "thorfleet", ["render", "video"])
    assert commands == [] and noops == ["service user thorfleet exists, in render, video"]


def test_accounts_fact_reads_users_and_groups_with_one_command():
    command = Accounts().command(["root", "no-such-user-here"], ["root", "no-such-group-here"]).get_raw_value()
    found = Accounts().process(subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout.splitlines())
    assert "root" in found["users"]["root"] and found["users"]["no-such-user-here"] is None
    assert found["groups"] == {"root": True, "no-such-group-here": False}
