"""The base role: packages, authorized keys, jetson-stats and Wi-Fi, with fake facts."""

import subprocess
from hashlib import sha256

import pytest
from pyinfra.api.exceptions import PyinfraError

from thorfleet.roles.base.facts import AuthorizedKeys, JetsonStats
from thorfleet.core.apt import apt_packages, jetpack_install_command
from thorfleet.roles.base.operations import WIFI_KEYFILE, authorized_keys, jetson_stats, wifi, wifi_keyfile
from thorfleet.core.pip import pip_install_command
from thorfleet.core.types import SecretSource

from .fake_host import run_operation, said_before_its_first_command

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop"


def test_present_packages_give_no_commands():
    commands, noops = run_operation(apt_packages, {"DebPackages": {"git": ["1"], "curl": ["8"]}}, ["git", "curl"])
    assert commands == [] and noops == ["all 2 apt packages are installed"]


def test_missing_packages_install_and_refresh_lists_only_when_the_install_fails():
    commands, _ = run_operation(apt_packages, {"DebPackages": {"git": ["1"]}}, ["git", "cmake", "ccache"])
    install = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake ccache"
    assert commands == [f"{install} || {{ DEBIAN_FRONTEND=noninteractive apt-get update && {install}; }}"]
    facts = {"DebPackages": {"git": ["1"]}}  # what `thorfleet plan` names for it
    assert said_before_its_first_command(apt_packages, facts, ["git", "cmake", "ccache"]) == ["will install apt packages: cmake, ccache"]


def test_authorized_keys_fact_and_missing_key_added():
    assert AuthorizedKeys().process(["# comment", KEY, ""]) == [KEY]
    commands, noops = run_operation(authorized_keys, {"AuthorizedKeys": []}, "nvidia", [KEY])
    assert noops == [] and len(commands) == 1
    assert f"'{KEY}' >> \"$home/.ssh/authorized_keys\"" in commands[0]
    assert commands[0].startswith('user=nvidia && home=$(getent passwd "$user" | cut -d: -f6) && install -d -m 700 -o "$user"') and 'chmod 600 "$home/.ssh/authorized_keys"' in commands[0]


def test_present_key_with_another_comment_gives_no_commands():
    present = KEY.replace("laptop", "other comment")
    commands, noops = run_operation(authorized_keys, {"AuthorizedKeys": [present]}, "nvidia", [KEY])
    assert commands == [] and noops == ["nvidia has all 1 authorized keys"]


def test_jetson_stats_fact():
    assert JetsonStats().process(["7.2.2", "service"]) == {"version": "7.2.2", "service": True}
    assert JetsonStats().process(["none", "no-service"]) == {"version": None, "service": False}


def test_jetson_stats_at_its_pin_gives_no_commands():
    facts = {"JetsonStats": {"version": "7.2.2", "service": True}}
    commands, noops = run_operation(jetson_stats, facts, "7.2.2")
    assert commands == [] and noops == ["jetson-stats 7.2.2 is installed with its service"]


def test_jetson_stats_installed_with_pip_as_its_docs_say_then_its_service():
    facts = {"JetsonStats": {"version": "4.2.0", "service": True}}
    commands, _ = run_operation(jetson_stats, facts, "7.2.2", "http://10.231.0.1:7080/simple/")
    assert commands == [
        "pip3 install --no-input --disable-pip-version-check --break-system-packages jetson-stats==7.2.2 "
        "--index-url http://10.231.0.1:7080/simple/ --trusted-host 10.231.0.1",
        "jtop --install-service",
    ]
    commands, _ = run_operation(jetson_stats, {"JetsonStats": {"version": "7.2.2", "service": False}}, "7.2.2")
    assert commands == ["jtop --install-service"]


def test_https_index_is_not_trusted_blindly():
    assert "--trusted-host" not in pip_install_command("pip", ["x==1"], "https://pypi.mirror.example/simple/")


def test_wifi_password_never_appears_in_a_command():
    commands, noops = run_operation(wifi, {"FileSha256": None}, "lab-net", "s3cret-pass", None, False)
    shell = [c for c in commands if isinstance(c, str)]
    uploads = [c for c in commands if isinstance(c, tuple)]
    assert not any("s3cret-pass" in c for c in shell)
    assert len(uploads) == 1 and "psk=s3cret-pass" in uploads[0][1]
    staged = uploads[0][0]
    # The staging file is made private before the upload writes the password into it.
    assert shell[1] == f"( umask 077 && : > {staged} )"
    assert shell[2] == f"install -D -m 600 -o root -g root {staged} {WIFI_KEYFILE} && rm -f {staged}"
    assert shell[3] == "nmcli connection reload && nmcli connection up id thorfleet-wifi"


def test_wifi_with_the_same_keyfile_gives_no_commands():
    content = wifi_keyfile("lab-net", "s3cret-pass", "wlan0", True)
    assert "interface-name=wlan0" in content and "hidden=true" in content
    assert content == wifi_keyfile("lab-net", "s3cret-pass", "wlan0", True)  # stable uuid
    facts = {"FileSha256": sha256(content.encode()).hexdigest()}  # the keyfile as thorfleet would write it
    commands, noops = run_operation(wifi, facts, "lab-net", "s3cret-pass", "wlan0", True)
    assert commands == [] and noops == ["Wi-Fi connection thorfleet-wifi to 'lab-net' is configured"]


def test_an_unreadable_secret_is_one_pyinfra_error_naming_its_source(monkeypatch, tmp_path):
    monkeypatch.delenv("THOR_WIFI", raising=False)
    with pytest.raises(PyinfraError, match="environment variable THOR_WIFI is empty or not set"):
        SecretSource(env="THOR_WIFI").read()
    with pytest.raises(PyinfraError, match="cannot read file .*nope: No such file"):
        SecretSource(file=str(tmp_path / "nope")).read()
    (tmp_path / "pw").write_text("from-file\nignored\n")
    assert SecretSource(file=str(tmp_path / "pw")).read() == "from-file"
    monkeypatch.setenv("THOR_WIFI", "from-env")
    assert SecretSource(env="THOR_WIFI").read() == "from-env"


def test_jetpack_is_installed_first_only_when_nvidias_source_offers_it():
    facts = {"DebPackages": {"git": ["1"]}}
    commands, _ = run_operation(apt_packages, facts, ["git"], ["nvidia-jetpack"])
    assert len(commands) == 1
    assert commands[0].startswith("offered() ( for p in nvidia-jetpack; do apt-cache policy \"$p\" | grep -q \"Candidate: [0-9]\"")
    assert commands[0].endswith("DEBIAN_FRONTEND=noninteractive apt-get install -y nvidia-jetpack")
    assert "Nothing was installed" in commands[0] and "nvidia-l4t-apt-source" in commands[0]
    commands, noops = run_operation(apt_packages, {"DebPackages": {"git": ["1"], "nvidia-jetpack": ["7.0"]}}, ["git"],
                                    ["nvidia-jetpack"])
    assert commands == [] and noops == ["all 2 apt packages are installed"]


def test_jetpack_missing_from_the_apt_sources_fails_before_installing_anything(tmp_path):
    """The command's own shell, with an apt that offers nothing and records what it is asked to do."""
    asked = tmp_path / "asked"
    for tool, script in {"apt-cache": "echo '  Candidate: (none)'", "apt-get": f'echo "$*" >> {asked}'}.items():
        (tmp_path / tool).write_text(f"#!/bin/sh\n{script}\n")
        (tmp_path / tool).chmod(0o755)
    command = jetpack_install_command(["nvidia-cuda-dev"])
    run = subprocess.run(["sh", "-c", command], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True)
    assert run.returncode == 1
    assert "nvidia-cuda-dev is not offered by this unit's apt sources" in run.stderr and "Nothing was installed" in run.stderr
    assert asked.read_text().split("\n")[:-1] == ["update -qq"]  # one refresh of the lists, no install
    (tmp_path / "apt-cache").write_text("#!/bin/sh\necho '  Candidate: 13.0.1-1'\n")
    asked.unlink()
    run = subprocess.run(["sh", "-c", command], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True)
    assert run.returncode == 0 and asked.read_text() == "install -y nvidia-cuda-dev\n"
