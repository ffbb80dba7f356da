"""Install a rendered file on the unit with pyinfra's files.put: written only when its content differs."""

from io import StringIO

from pyinfra.operations import files

from thorfleet.core.render import RenderedFile


def install_file(rendered: RenderedFile):
    """The files.put operation for one rendered file; its `did_change` gates reloads and restarts."""
    return files.put(
        name=f"Install {rendered.dest}",
        src=StringIO(rendered.content),
        dest=rendered.dest,
        mode=rendered.mode,
        user="root",
        group="root",
        _sudo=True,
    )
