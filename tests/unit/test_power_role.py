"""The power role: facts parse real nvpmodel and jetson_clocks output; operations with fake facts."""

import re
import pytest

from thorfleet.roles.power.facts import JetsonClocks, NvpmodelMode, NvpmodelModes
from thorfleet.roles.power.files import CLOCKS_UNIT, ORIGINAL_CLOCKS
from thorfleet.roles.power.operations import clocks_default, clocks_locked, nvpmodel_mode, switch_mode

from .fake_host import failure_of, run_operation

MODES = {"modes": {0: "MAXN", 1: "120W"}, "default": 1}
# jetson_clocks --show on a JetPack board (L4T script), before and after `jetson_clocks`.
SHOW_UNLOCKED = """SOC family:tegra264  Machine:NVIDIA Jetson AGX Thor Developer Kit
Online CPUs: 0-13
cpu0:  Online=1 Governor=schedutil MinFreq=972000 MaxFreq=2601000 CurrentFreq=972000 IdleStates: WFI=1 c7=1
GPU MinFreq=306000000 MaxFreq=1575000000 CurrentFreq=306000000
EMC MinFreq=2133000000 MaxFreq=4266000000 CurrentFreq=4266000000 FreqOverride=0
NV Power Mode: MAXN""".splitlines()
SHOW_LOCKED = """cpu0:  Online=1 Governor=schedutil MinFreq=2601000 MaxFreq=2601000 CurrentFreq=2601000 IdleStates: WFI=0 c7=0
GPU MinFreq=1575000000 MaxFreq=1575000000 CurrentFreq=1575000000
EMC MinFreq=2133000000 MaxFreq=4266000000 CurrentFreq=4266000000 FreqOverride=1
NV Power Mode: MAXN""".splitlines()


def test_nvpmodel_query_both_shapes():
    assert NvpmodelMode().process(["NV Power Mode: MAXN", "0"]) == {"id": 0, "name": "MAXN"}
    assert NvpmodelMode().process(["NV Power Mode[1]: 120W", "1"]) == {"id": 1, "name": "120W"}
    assert NvpmodelMode().process(["NV Power Mode[1]: 120W"]) == {"id": 1, "name": "120W"}
    assert NvpmodelMode().process(["NVPM ERROR: cannot open /etc/nvpmodel.conf"]) is None


def test_nvpmodel_conf_modes():
    conf = ["< POWER_MODEL ID=0 NAME=MAXN >", "CPU_ONLINE CORE_0 1", "< POWER_MODEL ID=1 NAME=120W >",
            "< PM_CONFIG DEFAULT=1 >"]
    assert NvpmodelModes().process(conf) == MODES


def test_jetson_clocks_show():
    assert JetsonClocks().process(SHOW_UNLOCKED) == {"locked": False, "unlocked": ["cpu0", "GPU", "EMC"]}
    assert JetsonClocks().process(SHOW_LOCKED) == {"locked": True, "unlocked": []}
    assert JetsonClocks().process(["Error: Run this script(jetson_clocks) as a root user"]) is None


def mode_facts(current):
    return {"NvpmodelMode": current, "NvpmodelModes": MODES}


def test_mode_already_set_gives_no_commands():
    commands, noops = run_operation(nvpmodel_mode, mode_facts({"id": 0, "name": "MAXN"}), "MAXN")
    assert commands == [] and noops == ["power mode is already MAXN (0)"]
    commands, _ = run_operation(nvpmodel_mode, mode_facts({"id": 0, "name": "MAXN"}), 0)
    assert commands == []


def test_other_mode_switches_by_id():
    commands, noops = run_operation(nvpmodel_mode, mode_facts({"id": 1, "name": "120W"}), "maxn", allow_reboot=True)
    assert noops == []
    assert commands == ["FunctionCommand(switch_mode, (0, 'MAXN', '120W', True), {})"]


def test_unknown_mode_names_the_offered_ones():
    commands, _ = run_operation(nvpmodel_mode, mode_facts({"id": 1, "name": "120W"}), "40W")
    assert re.search("power.mode '40W' is not a mode of this unit .* offers: 0 MAXN, 1 120W", failure_of(commands))


def test_missing_nvpmodel_is_a_clear_error():
    commands, _ = run_operation(nvpmodel_mode, mode_facts(None), "MAXN")
    assert re.search("nvpmodel is not installed", failure_of(commands))


class Output:
    def __init__(self, stdout="", stderr=""):
        self.stdout, self.stderr = stdout, stderr


class SwitchHost:
    """A host whose `nvpmodel -m` answers as given; records what was run and logged."""

    name = "thor-01"

    def __init__(self, answer: str, ok=True):
        self.answer, self.ok, self.ran, self.logged = answer, ok, [], []

    def run_shell_command(self, command, **kwargs):
        self.ran.append(str(command))
        return self.ok, Output(self.answer)

    def log_styled(self, text, **kwargs):
        self.logged.append(text)


def test_switch_without_reboot_question_succeeds():
    host = SwitchHost("")
    assert switch_mode(None, host, 0, "MAXN", "120W", allow_reboot=False) is True
    assert host.ran == ["echo no | nvpmodel -m 0"]


def test_reboot_question_without_permission_fails_saying_what_to_do():
    host = SwitchHost("NVPM WARN: Reboot required for changing to this power mode: 2\nNVPM WARN: power mode is not changed")
    assert switch_mode(None, host, 2, "LAB", "MAXN", allow_reboot=False) is False
    assert host.ran == ["echo no | nvpmodel -m 2"]  # declined: no reboot
    assert "must reboot the unit to switch from MAXN to LAB (2); the mode was not changed" in host.logged[0]
    assert "power.allow_reboot: true" in host.logged[0] and "sudo nvpmodel -m 2" in host.logged[0]


def test_failing_nvpmodel_fails_with_its_output():
    host = SwitchHost("NVPM ERROR: Invalid power mode ID: 7", ok=False)
    assert switch_mode(None, host, 7, "X", "MAXN", allow_reboot=True) is False
    assert "Invalid power mode ID: 7" in host.logged[0]


def clock_facts(locked=True, active=True):
    show = SHOW_LOCKED if locked else SHOW_UNLOCKED
    return {"JetsonClocks": JetsonClocks().process(show), "SystemdStatus": {f"{CLOCKS_UNIT}.service": active}}


def test_locked_and_active_gives_no_commands():
    commands, noops = run_operation(clocks_locked, clock_facts())
    assert commands == [] and noops == ["clocks are locked by the clocks unit"]


@pytest.mark.parametrize("locked,active", [(False, True), (True, False), (False, False)])
def test_unlocked_or_inactive_starts_the_clocks_unit(locked, active):
    commands, _ = run_operation(clocks_locked, clock_facts(locked, active))
    assert commands == [f"systemctl restart {CLOCKS_UNIT}.service"]


def run_default(locked, active, unit_files: bool, stored: bool):
    facts = clock_facts(locked, active)
    paths = {f"/etc/systemd/system/{CLOCKS_UNIT}.service", f"/etc/systemd/system/{CLOCKS_UNIT}.timer"}

    def file_fact(path):
        if path in paths:
            return {"size": 1} if unit_files else None
        return {"size": 1} if (path == ORIGINAL_CLOCKS and stored) else None

    facts["File"] = file_fact
    return run_operation(clocks_default, facts)


def test_default_clocks_stop_and_remove_the_unit():
    commands, _ = run_default(locked=True, active=True, unit_files=True, stored=True)
    assert commands[0] == f"systemctl disable --now {CLOCKS_UNIT}.timer"
    assert commands[1] == f"systemctl stop {CLOCKS_UNIT}.service"
    assert commands[2].startswith("rm -f /etc/systemd/system/") and commands[2].endswith("systemctl daemon-reload")


def test_default_clocks_restore_stored_clocks_without_the_unit():
    commands, _ = run_default(locked=True, active=False, unit_files=False, stored=True)
    assert commands == [f"/usr/bin/jetson_clocks --restore {ORIGINAL_CLOCKS}"]


def test_default_clocks_already_default_gives_no_commands():
    commands, noops = run_default(locked=False, active=False, unit_files=False, stored=True)
    assert commands == [] and noops == ["clocks follow the power mode"]
    commands, noops = run_default(locked=True, active=False, unit_files=False, stored=False)
    assert commands == [] and "not by thorfleet" in noops[0]
