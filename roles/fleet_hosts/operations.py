from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import FileContents

from thorfleet.core.install import Commands, install_commands
from thorfleet.core.render import RenderedFile

from .files import HOSTS, merged


@operation()
def hosts_block(block: str) -> Commands:
    """The fleet's block in /etc/hosts as rendered, the rest of the file as the unit has it; written
    whole (staged, then moved into place) only when the block differs."""
    lines = host.get_fact(FileContents, path=HOSTS)
    current = "\n".join(lines or []) + "\n"
    wanted = merged(current, block)
    if wanted == current:
        host.noop(f"{HOSTS} names the fleet's units")
        return
    yield from install_commands([RenderedFile(HOSTS, wanted, mode="644", role="fleet_hosts")], [HOSTS] if lines is not None else [])
