"""Where the thorfleet commands print: standard output, 160 columns wide when it is a log or a pipe
(whole tables rather than columns cut to 80 characters), and standard error."""

from rich.console import Console

console = Console()
if not console.is_terminal:
    console = Console(width=160)
errors = Console(stderr=True)
