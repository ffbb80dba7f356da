"""The engines role's operations with fake facts: flags, restart discipline, removal, health address."""

import shlex
import subprocess
from hashlib import sha256
from pathlib import Path

from thorfleet.roles.engines.kinds import LlamaServer, Triton, Vllm
from thorfleet.roles.engines.deploy import health_url
from thorfleet.roles.engines.facts import EngineState, EngineStatus, ImageHelp, InstalledEngines, ProgramHelp
from thorfleet.core.accounts import Accounts
from thorfleet.core.render import RenderedFile
from thorfleet.core.secret_file import SecretFile
from thorfleet.roles.engines.operations import RESTART_SCRIPT, engine_serving, engines_removed, service_user

from .fake_host import failure_of, run_operation

HELP = (Path(__file__).resolve().parents[1] / "data/help/llama-server.txt").read_text()
BINARY = "/opt/thorfleet/builds/llama.cpp/current/bin/llama-server"
FINGERPRINT = {"unit": "u1", "env": "e1", "build": "b1", "model": "m1"}


UNIT = RenderedFile("/etc/systemd/system/thorfleet-qwen3-8b.service", "[Service]\n", role="engines")
ENV = RenderedFile("/etc/thorfleet/engines/qwen3-8b.env", "# env\n", role="engines")
KEY = SecretFile("/etc/thorfleet/engines/qwen3-8b.api-key", "sk-secret\n", group="thorfleet", mode="640")
HEALTH = "http://127.0.0.1:8000/health"


def on_disk(*files, **changes) -> dict:
    return {f.dest: {"sha256": sha256(f.content.encode()).hexdigest(), "mode": f.mode, "owner": "root", "group": "root",
                     **changes} for f in files}


def state(active=True, enabled=True, running=FINGERPRINT, files=None):
    files = on_disk(UNIT, ENV) if files is None else files
    return {"EngineStatus": {"active": active, "enabled": enabled, "running": running, "files": files}}


def program(help_text=HELP, running=None, files=None):
    return {"ProgramHelp": {"version": "version: 0.5.0-dev (build 1, commit 0c1e570)", "help": help_text},
            **state(running=running, files=files)}


def serve(facts, argv=None, fingerprint=FINGERPRINT, secret=None, flags=True, name="qwen3-8b"):
    checked = {"kind": "llama-server", "argv": argv or [BINARY, "--model", "/m.gguf", "--port", "8000"]} if flags else None
    return run_operation(engine_serving, facts, name, [UNIT, ENV], fingerprint, HEALTH, 60, secret=secret, flags=checked)


def test_running_engine_with_its_files_and_fingerprint_is_confirmed_with_one_fact():
    """Not even the flags are read: the check belongs to (re)starts, and this engine is not restarted."""
    commands, noops = serve({**state(), "ProgramHelp": None})
    assert commands == [] and noops == ["engine qwen3-8b runs its current configuration"]


def test_accepted_flags_then_restart_health_and_record():
    new = {**FINGERPRINT, "build": "b2"}
    commands, _ = serve(program(running=FINGERPRINT), argv=[BINARY, "--model", "/m.gguf", "--load-mode", "mlock"],
                        fingerprint=new)
    assert commands[0] == f"sh -c {shlex.quote(RESTART_SCRIPT)} restart thorfleet-qwen3-8b http://127.0.0.1:8000/health 60 " \
                          "'thorfleet: (re)starting thorfleet-qwen3-8b: build changed'"
    assert commands[2][0] == "/var/lib/thorfleet/engines/qwen3-8b.json" and '"build": "b2"' in commands[2][1]


def test_rejected_flags_fail_naming_flag_version_and_replacement_before_anything_changes():
    commands, _ = serve(program(files={}), argv=[BINARY, "--no-mmap", "--mlock"], secret=KEY)
    message = failure_of(commands)  # new files and key were waiting: still nothing is written
    assert message.startswith("engine qwen3-8b: llama-server (version: 0.5.0-dev (build 1, commit 0c1e570)) rejects its "
                              "command line, so its unit was left as it was: --no-mmap is not an option of this version; "
                              "it became --load-mode: write load-mode: none")
    assert "--mlock is not an option" in message


def test_missing_program_is_reported():
    commands, _ = serve({**state(running=None), "ProgramHelp": None})
    assert failure_of(commands) == f"engine qwen3-8b: {BINARY} is not installed (the builds role installs it)"


def test_new_key_and_files_are_installed_before_the_restart_and_systemd_reloaded():
    commands, _ = serve(program(files={}), secret=KEY)
    uploads = [c for c in commands if isinstance(c, tuple)]
    assert [content for _, content in uploads[:3]] == ["sk-secret\n", "[Service]\n", "# env\n"]
    shell = [c for c in commands if isinstance(c, str)]
    assert any(c.startswith("install -D -m 640 -o root -g thorfleet") and KEY.path in c for c in shell)
    restart = next(i for i, c in enumerate(commands) if isinstance(c, str) and "systemctl restart" in c)
    assert commands.index("systemctl daemon-reload") < restart
    assert "sk-secret" not in " ".join(shell)


def test_files_changed_by_hand_are_put_back_without_a_restart_or_a_flag_check():
    commands, _ = serve({**state(files=on_disk(ENV) | on_disk(UNIT, mode="666")), "ProgramHelp": None})
    assert commands[-1] == "systemctl daemon-reload"
    assert not any(isinstance(c, str) and "restart" in c for c in commands)


def test_a_stopped_or_disabled_engine_is_enabled_and_started_without_a_check_when_told():
    commands, _ = serve(state(active=False, enabled=False), flags=False, name="w")
    assert commands[0] == "systemctl enable thorfleet-w.service"
    assert commands[1].startswith("sh -c ") and "restart thorfleet-w " in commands[1] and "not running changed" in commands[1]


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
    assert EngineStatus().process(["active=active", "enabled=enabled", "running=null", "- /etc/a.env",
                                   "ab 644 root root /etc/a.service"])["files"] == \
        {"/etc/a.env": None, "/etc/a.service": {"sha256": "ab", "mode": "644", "owner": "root", "group": "root"}}
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


def serve_container(facts, argv):
    flags = {"kind": "vllm", "argv": argv, "image": IMAGE, "entry": ["vllm", "serve"]}
    return run_operation(engine_serving, facts, "qwen3-vllm", [UNIT, ENV], FINGERPRINT, HEALTH, 60, flags=flags)


def test_container_flags_are_checked_against_the_images_entry_command():
    argv = ["vllm", "serve", "/models/q", "--port", "8000", "--enforce-eager", "--max-model-len", "32768"]
    commands, _ = serve_container(image_help(), argv)
    assert " restart thorfleet-qwen3-vllm http://127.0.0.1:8000/health 60 " in commands[0]
    commands, _ = serve_container(image_help(), argv + ["--max-num-batched"])
    assert failure_of(commands) == (f"engine qwen3-vllm: vllm ({IMAGE} (0123456789ab)) rejects its command line, so its "
                                    "unit was left as it was: --max-num-batched is not an option of this version")


def test_an_image_that_lists_no_options_or_is_absent_fails_the_host():
    commands, _ = serve_container(image_help("Traceback (most recent call last):\nRuntimeError: no GPU"),
                                  ["vllm", "serve", "--port", "1"])
    assert failure_of(commands).endswith("`vllm serve --help` listed no options, so nothing could be checked (it printed: "
                                         "Traceback (most recent call last): | RuntimeError: no GPU)")
    commands, _ = serve_container({"ImageHelp": None, **state(running=None)}, ["vllm", "serve"])
    assert failure_of(commands) == f"engine qwen3-vllm: image {IMAGE} is not on the unit (the engines role pulls or loads it first)"


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


def test_known_slow_llama_server_flags_are_warnings_naming_the_file(tmp_path):
    from tests.unit.helpers import fleet_of, write_tree

    models = {"models": {"m": {"id": "Qwen/Qwen3-8B-GGUF", "file": "a.gguf"}}}
    slow = {"kind": "llama-server", "model": "m", "port": 8000, "args": {"no-kv-offload": True, "ctx-size": 0, "parallel": 14}}
    warnings = fleet_of(tmp_path, {"group_vars/all.yml": models, "group_vars/llm.yml": {"engines": {"e": slow}}}).warnings
    assert [(w.file.endswith("group_vars/llm.yml"), w.key_path) for w in warnings] == [
        (True, "engines.e.args.no-kv-offload"), (True, "engines.e.args.ctx-size"), (True, "engines.e.model")]
    assert "205.5 tok/s" in warnings[0].reason and "84 GB" in warnings[1].reason
    assert "not in the memory plan" in warnings[2].reason  # the controller knows nothing of model m yet
    # A CPU build has no GPU to keep the cache on; a context sized per slot is fine.
    write_tree(tmp_path, {"host_vars/thor-01.yml": {"builds": {"llama_cpp": {"cuda": False}},
                                                    "engines": {"e": {"args": {"ctx-size": 18432}}}}})
    assert [w.key_path for w in fleet_of(tmp_path, {}).warnings] == ["engines.e.model"]


def test_behind_a_gateway_the_engine_is_drained_before_the_restart_and_put_back_after_its_health():
    new = {**FINGERPRINT, "build": "b2"}
    from thorfleet.roles.gateway.runtime import DrainForRestart

    drain = DrainForRestart([("gateway-host", "thor-01.qwen3-8b")])
    commands, _ = run_operation(engine_serving, program(running=FINGERPRINT), "qwen3-8b", [UNIT, ENV], new, HEALTH, 60,
                                flags={"kind": "llama-server", "argv": [BINARY, "--model", "/m.gguf"]}, drain=drain)
    assert commands[0] == "FunctionCommand(drain, (), {})"
    assert " restart thorfleet-qwen3-8b http://127.0.0.1:8000/health 60 " in commands[1]
    assert commands[2] == "FunctionCommand(ready, (), {})"


def test_the_drain_leaves_a_server_a_rollout_holds_and_puts_back_only_what_it_drained(monkeypatch):
    from thorfleet.roles.gateway import runtime

    rows = {"a.e": {"backend": "chat.m", "server": "a.e", "unit": "a", "status": "UP", "open": 0, "served": 0},
            "b.e": {"backend": "chat.m", "server": "b.e", "unit": "b", "status": "DRAIN", "open": 0, "served": 0}}
    calls = []

    class FakeGateway:
        def __init__(self, host):
            self.config = type("C", (), {"drain_timeout_s": 5})()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def servers(self):
            return list(rows.values())

        def set_state(self, found, state):
            calls.append((sorted(r["server"] for r in found), state))
            return [r["server"] for r in found]

        def wait_idle(self, servers, timeout):
            calls.append((sorted(servers), "idle"))
            return 0.0

    monkeypatch.setattr(runtime, "Gateway", FakeGateway)
    host = type("H", (), {"log": lambda self, *a: None, "log_styled": lambda self, *a, **k: None, "name": "gw"})()
    gateway = type("G", (), {"name": "gw"})()
    drain = runtime.DrainForRestart([(gateway, "a.e"), (gateway, "b.e")])
    assert drain.drain(None, host) and drain.ready(None, host)
    assert calls == [(["a.e"], "drain"), (["a.e"], "idle"), ([], "drain"), (["a.e"], "ready")]


def restart_with(tmp_path, engine: str, timeout: int = 30) -> subprocess.CompletedProcess:
    """restart.sh as the unit runs it, with systemctl, curl and journalctl played by `engine`: a shell
    snippet over $calls (how many times the engine's state was asked)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "systemctl": f'n=$(cat {tmp_path}/calls 2>/dev/null || echo 0); [ "$1" = show ] && echo $((n + 1)) > {tmp_path}/calls\n'
                     f'calls=$n; case "$*" in *NRestarts*) {engine} ;; *ActiveState*) {engine} ;; esac; exit 0',
        "curl": "exit 7",
        "journalctl": 'printf "loading model\\nerror: unrecognized arguments: --bad\\n"',
        "sleep": "exit 0",
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return subprocess.run(["sh", "-c", RESTART_SCRIPT, "restart", "thorfleet-e", "http://127.0.0.1:8000/health", str(timeout),
                           "thorfleet: (re)starting thorfleet-e: build changed"],
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, capture_output=True, text=True, timeout=30)


def test_an_engine_that_exits_fails_the_restart_at_once_with_its_own_last_lines(tmp_path):
    """systemd's auto-restart state (Restart=on-failure) is seen on the third look, long before the timeout."""
    engine = ('case "$*" in *NRestarts*) echo 0 ;; *) if [ $calls -ge 3 ]; then printf "activating\\nauto-restart\\n"; '
              'else printf "active\\nrunning\\n"; fi ;; esac')
    result = restart_with(tmp_path, engine, timeout=600)
    assert result.returncode == 1 and result.stdout == "thorfleet: (re)starting thorfleet-e: build changed\n"
    first = result.stderr.splitlines()[0]
    assert first == ("thorfleet: thorfleet-e did not answer http://127.0.0.1:8000/health: exited after 1 s (now: activating "
                     "auto-restart); its first error: error: unrecognized arguments: --bad; its last lines: loading model "
                     "error: unrecognized arguments: --bad ")


def test_an_engine_restarted_between_two_looks_is_caught_by_its_restart_count(tmp_path):
    engine = 'case "$*" in *NRestarts*) [ $calls -ge 4 ] && echo 1 || echo 0 ;; *) printf "active\\nrunning\\n" ;; esac'
    result = restart_with(tmp_path, engine, timeout=600)
    assert result.returncode == 1 and ": exited after 1 s and was restarted; its first error: " in result.stderr


def test_an_engine_that_runs_but_never_answers_fails_after_its_timeout(tmp_path):
    engine = 'case "$*" in *NRestarts*) echo 0 ;; *) printf "active\\nrunning\\n" ;; esac'
    result = restart_with(tmp_path, engine, timeout=3)
    assert result.returncode == 1 and "did not answer http://127.0.0.1:8000/health: not within 3 s; its first" in result.stderr
