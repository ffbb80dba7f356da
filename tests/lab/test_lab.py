"""The simulated Thor lab itself: units, stand-ins, controller services, faults, and a clean `down`."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.helpers import ssh, thorfleet
from thorfleet.lab import container_images, faults, lab, layout, lab_models, unit as units

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def test_status_shows_every_unit_booted_with_sshd_and_docker(lab_units):
    result = thorfleet("lab", "status")
    assert result.returncode == 0, result.stderr
    for u in lab_units:
        row = next(line for line in result.stdout.splitlines() if u.name in line)
        assert u.address in row
        assert re.search(r"running\s*│\s*active\s*│\s*active\s*│\s*up", row), row


def test_up_again_changes_nothing(lab_units):
    leaders = [units.leader_pid(u) for u in lab_units]
    assert lab.up(3, log=lambda text: None) == lab_units
    assert [units.leader_pid(u) for u in lab_units] == leaders  # no unit was restarted


def test_lab_ssh_runs_the_command_and_returns_its_status(lab_units):
    mode = thorfleet("lab", "ssh", "sim-01", "--", "nvpmodel", "-q")
    assert mode.returncode == 0, mode.stderr
    assert re.fullmatch(r"NV Power Mode: \w+\n\d+\n", mode.stdout)
    gpu = thorfleet("lab", "ssh", "sim-01", "--", "nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader")
    assert gpu.stdout == "NVIDIA Thor, 11.0\n"
    assert thorfleet("lab", "ssh", "sim-02", "--", "sh", "-c", "exit 7").returncode == 7
    assert thorfleet("lab", "ssh", "sim-02", "--", "whoami; sudo -n whoami").stdout == "nvidia\nroot\n"


def test_lab_ssh_names_a_unit_that_is_not_up(lab_units):
    result = thorfleet("lab", "ssh", "sim-09", "--", "true")
    assert result.returncode == 2
    assert "sim-09 is not up" in result.stderr


def test_docker_runs_a_lab_image_with_the_nvidia_runtime(lab_units):
    result = ssh(lab_units[0], "sudo docker run --rm --runtime=nvidia --entrypoint /usr/bin/python3 "
                               "thorfleet-lab/vllm:standin -c 'print(\"hello\")'")
    assert (result.returncode, result.stdout) == (0, "hello\n"), result.stderr


def test_lab_image_answers_openai_requests_and_checks_the_api_key(lab_units):
    command = (
        "sudo docker run -d --name lab-probe --runtime=nvidia --network host thorfleet-lab/vllm:standin "
        "vllm serve /models/m --served-model-name probe --host 127.0.0.1 --port 8009 --api-key sekrit >/dev/null"
        " && for i in $(seq 50); do curl -sf localhost:8009/health >/dev/null && break; sleep 0.1; done"
        " && curl -s -o /dev/null -w '%{http_code}\\n' localhost:8009/v1/models"
        " && curl -s -H 'Authorization: Bearer sekrit' localhost:8009/v1/models; sudo docker rm -f lab-probe >/dev/null"
    )
    result = ssh(lab_units[2], command)
    status, body = result.stdout.split("\n", 1)
    assert status == "401"
    assert json.loads(body)["data"][0]["id"] == "probe"


def test_each_unit_has_cgroups_of_its_own(lab_units):
    """Units must not share the controller's system.slice: their systemds would fight over it."""
    for u in lab_units:
        own = list(Path("/sys/fs/cgroup/systemd").glob(f"**/thorfleet-lab-{u.name}"))
        assert len(own) == 1 and list(own[0].glob("payload/system.slice/ssh.service"))
    assert not Path("/sys/fs/cgroup/systemd/system.slice").exists()


def test_units_reach_the_controller_and_nothing_else(lab_units):
    routes = ssh(lab_units[0], "ip -4 route show table main | grep -v docker0").stdout.splitlines()
    assert routes == [f"{layout.SUBNET_PREFIX}.0/24 dev host0 proto kernel scope link src {lab_units[0].address} "]
    assert ssh(lab_units[0], "curl -sS -m 3 http://192.0.2.1/").returncode != 0
    assert ssh(lab_units[0], f"sudo ping -c1 -W2 {lab_units[1].address}").returncode == 0


def test_a_units_link_is_held_to_its_rate_and_freed_again(lab_units):
    """`lab up --link 20mbit` (2.5 MB/s each way): a download to a unit runs near that rate; `lab up`
    without it frees the link again, with no unit restarted."""
    from thorfleet.lab import network

    sim02, leaders = lab_units[1], [units.leader_pid(u) for u in lab_units]
    url = f"http://{layout.CONTROLLER_ADDRESS}:{layout.HTTP_PORT}/files/{container_images.ARCHIVE.relative_to(container_images.FILES)}"

    def received_in(seconds: int) -> int:  # bytes of the lab's 24 MB image archive that arrive in that time
        return int(float(ssh(sim02, f"curl -s -o /dev/null -m {seconds} -w '%{{size_download}}' {url}").stdout or 0))

    try:
        assert lab.up(3, log=lambda text: None, link="20mbit") == lab_units
        assert "up, 20Mbit" in thorfleet("lab", "status").stdout
        limited = received_in(4)
        assert 0.6 * 4 * 2.5e6 <= limited <= 1.15 * 4 * 2.5e6, limited
    finally:
        lab.up(3, log=lambda text: None)
    assert network.link_limit(sim02) is None and received_in(4) > 2 * limited
    assert [units.leader_pid(u) for u in lab_units] == leaders


def _set_mode_rebooting(unit, mode: int) -> None:
    """Set an nvpmodel mode, answering YES when it asks for a reboot, and wait until the unit is back."""
    leader = units.leader_pid(unit)
    if "DO YOU WANT TO REBOOT" in ssh(unit, f"echo YES | sudo nvpmodel -m {mode}").stdout:
        faults.wait_for_reboot(unit, leader)


def test_nvpmodel_mode_survives_reboot_and_a_declined_reboot_changes_nothing(lab_units):
    unit = lab_units[1]
    _set_mode_rebooting(unit, 0)
    assert ssh(unit, "nvpmodel -q").stdout == "NV Power Mode: MAXN\n0\n"
    declined = ssh(unit, "echo no | sudo nvpmodel -m 2; nvpmodel -q")
    assert "DO YOU WANT TO REBOOT NOW?" in declined.stdout
    assert declined.stdout.endswith("NV Power Mode: MAXN\n0\n")
    assert ssh(unit, "sudo jetson_clocks && sudo jetson_clocks --show").stdout.count("MinFreq=1575000000 MaxFreq=1575000000") == 1
    faults.reboot(unit)
    assert ssh(unit, "nvpmodel -q").stdout == "NV Power Mode: MAXN\n0\n"  # kept across the reboot
    assert "GPU Online=1 MinFreq=306000000" in ssh(unit, "sudo jetson_clocks --show").stdout  # clocks are not
    try:
        _set_mode_rebooting(unit, 2)  # a mode with another power-gating mask: accepted, it reboots
        assert ssh(unit, "nvpmodel -q").stdout == "NV Power Mode: LAB_REBOOT\n2\n"
        assert ssh(unit, "nvpmodel -p --verbose | grep PM_CONFIG").stdout == "NVPM VERB: PM_CONFIG: DEFAULT=120W(1)\n"
    finally:
        _set_mode_rebooting(unit, 1)  # the unit's default again, for the tests after this one


def test_jetson_clocks_store_and_restore(lab_units):
    unit = lab_units[0]
    ssh(unit, "sudo rm -f /run/thorfleet-lab/clocks.json")  # the clocks as at boot (a deploy may have locked them)
    result = ssh(unit, "sudo jetson_clocks --store /tmp/orig.conf && sudo jetson_clocks && "
                       "sudo jetson_clocks --restore /tmp/orig.conf && sudo jetson_clocks --show | grep ^GPU")
    assert result.stdout == "GPU Online=1 MinFreq=306000000 MaxFreq=1575000000 CurrentFreq=306000000\n"
    missing = ssh(unit, "sudo jetson_clocks --restore /nonexistent")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_cut_and_restore_a_unit(lab_units):
    unit = lab_units[2]
    faults.cut(unit)
    try:
        assert ssh(unit, "true").returncode == 255  # ssh's own failure: unreachable
        assert "cut" in thorfleet("lab", "status").stdout
    finally:
        faults.restore(unit)
    assert ssh(unit, "true").returncode == 0


def test_kill_a_process_and_fill_the_disk(lab_units):
    unit = lab_units[2]
    assert ssh(unit, "sudo systemd-run --quiet --property=Type=exec --unit=lab-probe sleep 1000").returncode == 0
    assert faults.kill(unit, "sleep") == 1
    assert ssh(unit, "systemctl is-active lab-probe").stdout.strip() in ("failed", "inactive")
    assert faults.kill(unit, "sleep") == 0
    taken = faults.fill_disk(unit)
    try:
        assert taken > 1 << 30
        full = ssh(unit, "sudo sh -c 'head -c 1048576 /dev/zero > /var/tmp/one-more-mib'")
        assert full.returncode != 0 and "No space left" in full.stderr
    finally:
        faults.free_disk(unit)
    assert ssh(unit, "sudo sh -c 'echo ok > /var/tmp/probe' && cat /var/tmp/probe").stdout == "ok\n"


def test_controller_serves_git_packages_models_to_units(lab_units):
    unit = lab_units[0]
    from thorfleet.roles.builds.config import LlamaCppBuild, WhisperCppBuild

    commit = LlamaCppBuild().ref
    llama = ssh(unit, f"rm -rf /tmp/l && git init -q /tmp/l && git -C /tmp/l fetch -q --depth 1 "
                      f"git://{layout.CONTROLLER_ADDRESS}/llama.cpp.git {commit} && git -C /tmp/l rev-parse FETCH_HEAD")
    assert llama.stdout.strip() == commit, llama.stderr
    tag = WhisperCppBuild().ref
    whisper = ssh(unit, f"rm -rf /tmp/w && git clone -q --branch {tag} git://{layout.CONTROLLER_ADDRESS}/whisper.cpp.git /tmp/w"
                        " && test -f /tmp/w/examples/server/server.cpp && git -C /tmp/w describe --tags")
    assert whisper.stdout.strip() == tag, whisper.stderr
    index = f"http://{layout.CONTROLLER_ADDRESS}:{layout.HTTP_PORT}/simple/"
    pip = ssh(unit, f"rm -rf /tmp/venv && python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -q --index-url {index} "
                    f"--trusted-host {layout.CONTROLLER_ADDRESS} jetson-stats==7.2.2 modelscope==1.40.2 && /tmp/venv/bin/jtop --help >/dev/null")
    assert pip.returncode == 0, pip.stderr
    download = ssh(unit, f"MODELSCOPE_ENDPOINT=http://{layout.CONTROLLER_ADDRESS}:{layout.HTTP_PORT} /tmp/venv/bin/modelscope download "
                         f"--model {lab_models.TINY_QWEN2} --local_dir /tmp/model >/dev/null 2>&1; sha256sum /tmp/model/*.gguf")
    expected = subprocess.run(["sha256sum", str(lab_models.MODELS / lab_models.TINY_QWEN2 / lab_models.TINY_QWEN2_FILE)],
                              capture_output=True, text=True).stdout.split()[0]
    assert download.stdout.split()[0] == expected, download.stderr


def test_pyinfra_reaches_every_unit_of_the_sim_inventory(lab_units):
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # this environment's pyinfra
    result = subprocess.run(["pyinfra", "-y", "inventory/sim.py", "exec", "--", "nvpmodel", "-q"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).count("NV Power Mode:") == 3


def test_down_removes_everything_it_made_and_up_brings_it_back(lab_units):
    lab.down(log=lambda text: None)
    assert not [ns for ns in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout.split() if ns.startswith("thorfleet-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "tfl-sim" not in links and layout.BRIDGE not in links
    assert str(layout.LAB) not in Path("/proc/self/mountinfo").read_text()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    for leftover in ("systemd-nspawn", "thorfleet.lab.supervise", "thorfleet.lab.services", "git daemon", "dockerd"):
        assert leftover not in processes
    assert not layout.existing_units()
    assert not list(Path("/sys/fs/cgroup").glob("*/**/thorfleet-lab-sim-*"))
    assert lab.up(3, log=lambda text: None) == lab_units
    assert all(units.system_state(u) == "running" for u in lab_units)
    assert ssh(lab_units[2], "sudo docker image inspect --format '{{.Id}}' thorfleet-lab/sglang:standin").stdout.strip() \
        == container_images.image_id()


def test_lab_model_is_a_qwen2_gguf_with_the_real_tokenizer(lab_units):
    import gguf

    reader = gguf.GGUFReader(lab_models.MODELS / lab_models.TINY_QWEN2 / lab_models.TINY_QWEN2_FILE)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]) == b"qwen2"
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == 151936  # Qwen2's vocabulary
    assert "tokenizer.chat_template" in reader.fields
    assert {t.name for t in reader.tensors} >= {"token_embd.weight", "blk.1.ffn_down.weight", "output_norm.weight"}


def test_lab_whisper_model_has_whisper_cpp_header_and_every_tensor(lab_units):
    import struct

    data = (lab_models.MODELS / lab_models.TINY_WHISPER / lab_models.TINY_WHISPER_FILE).read_bytes()
    magic, n_vocab, audio_ctx, audio_state, *_ = struct.unpack_from("<I11i", data)
    assert (magic, n_vocab, audio_ctx, audio_state) == (lab_models.GGML_MAGIC, 51865, 1500, 64)  # multilingual vocabulary
    for name in (b"encoder.conv1.weight", b"decoder.blocks.0.cross_attn.out.bias", b"decoder.token_embedding.weight"):
        assert name in data
