"""Operations of the base role: authorized keys, jetson-stats, Wi-Fi (apt packages: core/apt.py)."""

import shlex
import uuid

from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.install import Commands
from thorfleet.core.pip import pip_install_command
from thorfleet.core.secret_file import is_current, secret_file_commands
from thorfleet.roles.base.facts import AuthorizedKeys, JetsonStats

WIFI_CONNECTION = "thorfleet-wifi"
WIFI_KEYFILE = f"/etc/NetworkManager/system-connections/{WIFI_CONNECTION}.nmconnection"


def key_id(line: str) -> str:
    """A key is the same key whatever its comment: compare type and blob."""
    return " ".join(line.split()[:2])


@operation()
def authorized_keys(user: str, keys: list[str]) -> Commands:
    """Add the keys missing from the user's authorized_keys; other keys there are kept."""
    present = {key_id(line) for line in host.get_fact(AuthorizedKeys, user=user)}
    missing = [k for k in keys if key_id(k) not in present]
    if not missing:
        host.noop(f"{user} has all {len(keys)} authorized keys")
        return
    lines = " ".join(shlex.quote(k) for k in missing)
    yield (
        f'user={shlex.quote(user)} && home=$(getent passwd "$user" | cut -d: -f6) && install -d -m 700 -o "$user" -g "$(id -gn "$user")" "$home/.ssh" && '
        f'printf "%s\\n" {lines} >> "$home/.ssh/authorized_keys" && '
        'chown "$user": "$home/.ssh/authorized_keys" && chmod 600 "$home/.ssh/authorized_keys"'
    )


@operation()
def jetson_stats(version: str, index_url: str | None = None) -> Commands:
    """jetson-stats (`jtop`) at the pinned version, with its jtop.service (`jtop --install-service`)."""
    found = host.get_fact(JetsonStats)
    if found["version"] == version and found["service"]:
        host.noop(f"jetson-stats {version} is installed with its service")
        return
    if found["version"] != version:
        yield pip_install_command("pip3", [f"jetson-stats=={version}"], index_url, system=True)
    # Installed from a wheel, jetson-stats does not set its service up itself (jtop/__main__.py).
    yield "jtop --install-service"


def wifi_keyfile(ssid: str, password: str, interface: str | None, hidden: bool) -> str:
    """A NetworkManager keyfile; the same settings always give the same file (the uuid follows the SSID)."""
    lines = [
        "[connection]", f"id={WIFI_CONNECTION}", f"uuid={uuid.uuid5(uuid.NAMESPACE_DNS, 'thorfleet-wifi.' + ssid)}",
        "type=wifi", "autoconnect=true",
    ]
    if interface:
        lines.append(f"interface-name={interface}")
    lines += ["", "[wifi]", "mode=infrastructure", f"ssid={ssid}"]
    if hidden:
        lines.append("hidden=true")
    lines += ["", "[wifi-security]", "key-mgmt=wpa-psk", f"psk={password}", "", "[ipv4]", "method=auto",
              "", "[ipv6]", "method=auto", ""]
    return "\n".join(lines)


@operation()
def wifi(ssid: str, password: str, interface: str | None = None, hidden: bool = False) -> Commands:
    """Join a Wi-Fi network with NetworkManager; the password goes into a root-only keyfile
    (thorfleet/secret_file.py: never on a command line or in output)."""
    content = wifi_keyfile(ssid, password, interface, hidden)
    if is_current(WIFI_KEYFILE, content):
        host.noop(f"Wi-Fi connection {WIFI_CONNECTION} to {ssid!r} is configured")
        return
    yield "command -v nmcli >/dev/null || { echo 'thorfleet: nmcli (NetworkManager) is not installed' >&2; exit 1; }"
    yield from secret_file_commands(WIFI_KEYFILE, content)
    yield f"nmcli connection reload && nmcli connection up id {WIFI_CONNECTION}"


