"""One operation that every host of a deploy passes at the same call site.

pyinfra runs each operation on all its hosts before the next, but orders two hosts' *different*
operations by how many operations each host has before them, then by line number: a host with fewer
operations earlier reaches a later step sooner. An operation that needs another host's earlier one
done (a build to copy off its builder, a mirror to pull through) puts a barrier before it: called from
one place on every host concerned, it is one operation, which waits for every host's earlier ones.
"""

from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.install import Commands


@operation()
def barrier(what: str) -> Commands:
    host.noop(f"{what}, on every host of the deploy")
    yield from ()
