"""Failing an operation on one host with a message, and no traceback.

An exception raised inside an operation's generator runs in a gevent greenlet, which prints
its traceback before pyinfra reports the error. Operations yield `failure(message)` instead:
the host logs the message in red and the operation fails there, like a failed command.
"""

from typing import Any

from pyinfra import logger
from pyinfra.api.command import FunctionCommand


def failure(message: str) -> FunctionCommand:
    return FunctionCommand(log_failure, (message,), {})


def log_failure(state: Any, host: Any, message: str) -> bool:
    host.log_styled(f"thorfleet: {message}", fg="red", log_func=logger.error)
    return False
