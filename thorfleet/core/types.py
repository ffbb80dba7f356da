"""Constrained value types shared by the role config models.

Each type rejects what would break the file or command it ends up in, with a reason
a user can act on.
"""

import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pyinfra.api.exceptions import PyinfraError


def matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
    """A validator that accepts strings matching `pattern`; `message` may use {value!r}."""

    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(message.format(value=value))
        return value

    return AfterValidator(check)


class KeyProblem(ValueError):
    """A check across a model's keys whose fault lies with one of them: the error is reported at that
    key, so that it names the file that set it (not the last file that touched the mapping)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# A name that is usable as part of a systemd unit name, a file name and a container name.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def _name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} cannot be used in a systemd unit or file name: use 1-63 characters "
            "of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        )
    return value


Name = Annotated[str, AfterValidator(_name)]


def _abs_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path")
    if any(ch in value for ch in "\n\r\t\0") or "%" in value or "$" in value:
        raise ValueError(f"{value!r} contains a control character, '%' or '$'")
    if " " in value:
        raise ValueError(f"{value!r} contains a space, which systemd path settings do not accept")
    if ".." in PurePosixPath(value).parts:
        raise ValueError(f"{value!r} contains '..'")
    return str(PurePosixPath(value))


AbsPath = Annotated[str, AfterValidator(_abs_path)]


def _relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if value.startswith("/") or ".." in path.parts or not value:
        raise ValueError(f"{value!r} must be a relative path inside the model folder")
    if any(ch in value for ch in "\n\r\t\0%$ "):
        raise ValueError(f"{value!r} contains whitespace, a control character, '%' or '$'")
    return str(path)


RelativePath = Annotated[str, AfterValidator(_relative_path)]


def _bind_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (use 127.0.0.1, 0.0.0.0 or a unit address)")
    return value


BindAddress = Annotated[str, AfterValidator(_bind_address)]


def refuse_exposed_without_secret(bind: str, secret: "SecretSource | None", allowed: bool, secret_key: str) -> None:
    """Nothing listens beyond loopback without authentication unless the config says so."""
    if not ipaddress.ip_address(bind).is_loopback and secret is None and not allowed:
        raise KeyProblem("bind", f"{bind} is not loopback: set {secret_key} (or allow_unauthenticated: true)")

Port = Annotated[int, Field(ge=1, le=65535)]

# Environment variable names as POSIX shells and systemd accept them.
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


EnvName = Annotated[str, matching(ENV_NAME_RE, "{value!r} is not a valid environment variable name")]


def _single_line(value: str) -> str:
    if any(ch in value for ch in "\n\r\0"):
        raise ValueError("must be a single line (no newline or NUL)")
    return value


SingleLine = Annotated[str, AfterValidator(_single_line)]

# A container image reference: [registry[:port]/]path[:tag][@digest].
IMAGE_RE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def _image(value: str) -> str:
    if not IMAGE_RE.match(value):
        raise ValueError(f"{value!r} is not a container image reference such as 'owner/name:tag'")
    if ":" not in value.rsplit("/", 1)[-1] and "@" not in value:
        raise ValueError(f"{value!r} has no tag: pin a tag or digest so every unit runs the same image")
    if value.rsplit("/", 1)[-1].split("@")[0].endswith(":latest") and "@" not in value:
        raise ValueError(f"{value!r} is tagged 'latest', which moves: pin a version tag, or add its digest (@sha256:...)")
    return value


Image = Annotated[str, AfterValidator(_image)]

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _sha256(value: str) -> str:
    value = value.lower()
    if not SHA256_RE.match(value):
        raise ValueError(f"{value!r} is not a sha256 sum (64 hexadecimal digits)")
    return value


Sha256 = Annotated[str, AfterValidator(_sha256)]


def _url(value: str) -> str:
    if not re.match(r"^(https?|file|ssh|git)://[^\s]+$", value) and not re.match(r"^/[^\s]*$", value):
        raise ValueError(f"{value!r} is not a URL (http, https, file, ssh or git) or an absolute path")
    return value


Url = Annotated[str, AfterValidator(_url)]


class SecretSource(StrictModel):
    """Where a secret comes from on the controller: an environment variable or a file. Never inline."""

    env: EnvName | None = Field(None, description="Name of an environment variable on the controller holding the secret.")
    file: str | None = Field(None, description="Path of a file on the controller holding the secret (first line).")

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, data: Any) -> Any:
        if isinstance(data, (str, int, float)):
            raise ValueError("an inline secret is not allowed: give {env: VARIABLE} or {file: PATH} on the controller")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecretSource":
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def read(self) -> str:
        """The secret, read on the controller when the deploy needs it; SecretUnavailable says why not."""
        if self.env:
            value = os.environ.get(self.env, "")
        else:
            try:
                value = Path(self.file or "").expanduser().read_text(encoding="utf-8-sig").split("\n", 1)[0]
            except OSError as err:
                raise SecretUnavailable(f"cannot read {self.describe()}: {err.strerror}") from None
            except UnicodeDecodeError:
                raise SecretUnavailable(f"{self.describe()} is not UTF-8 text (an editor may have saved it as UTF-16): "
                                        "save it as UTF-8") from None
        if not value.strip():
            raise SecretUnavailable(f"{self.describe()} is empty or not set")
        return value.strip()


SecretReader = Callable[[SecretSource], str]  # SecretSource.read, or how `render` shows where a secret comes from


class SecretUnavailable(PyinfraError):
    """A configured secret cannot be read on the controller: the one way every part of thorfleet fails on
    a secret. Validation turns it into a problem naming the key before anything connects; in a deploy,
    pyinfra stops the host with this line; the `thorfleet` commands print it and exit 2."""
