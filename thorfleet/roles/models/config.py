"""Config of the models role: which model files land where, from which hub."""

import fnmatch
import ipaddress
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from thorfleet.core.role import Listener
from thorfleet.core.types import AbsPath, BindAddress, RelativePath, Sha256, SingleLine, StrictModel, Url, matching


SSM_RANGE = ipaddress.IPv4Network("232.0.0.0/8")


def _ssm_group(value: str) -> str:
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if not (isinstance(address, ipaddress.IPv4Address) and address in SSM_RANGE and address < SSM_RANGE.broadcast_address):
        raise ValueError(f"{value!r} is not a source-specific multicast address (232.0.0.0 to 232.255.255.254)")
    return value


FanoutGroup = Annotated[str, AfterValidator(_ssm_group)]
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


RepoId = Annotated[str, matching(REPO_ID_RE, "{value!r} is not a repository id such as 'Qwen/Qwen3-8B-GGUF'")]


class ModelConfig(StrictModel):
    """One model: a hub repository (or some of its files), or a file at a URL."""

    source: Literal["modelscope", "huggingface", "url"] = Field("modelscope", description="Where it comes from.")
    id: RepoId | None = Field(None, description="Repository id on ModelScope or Hugging Face, e.g. `Qwen/Qwen3-8B-GGUF`.")
    url: Url | None = Field(None, description="For `source: url`: the HTTPS address of the single file.")
    revision: SingleLine | None = Field(None, description="Pinned revision (branch, tag or commit); the hub's default when unset.")
    include: list[SingleLine] = Field(
        default_factory=list, description="Glob patterns of files to fetch (`--include`), e.g. one GGUF quantization; all files when empty."
    )
    dest: AbsPath | None = Field(None, description="Folder the files land in; `<model_store.root>/<id>` when unset.")
    file: RelativePath | None = Field(
        None, description="The file an engine loads, relative to `dest` (a GGUF, or the first shard of a split GGUF). Unset: the folder."
    )
    sha256: dict[RelativePath, Sha256] = Field(
        default_factory=dict, description="Expected sha256 per file (relative to `dest`), checked in addition to what the hub publishes."
    )
    size_bytes: int | None = Field(None, ge=0, description="Expected total size, for the free-space check where the hub does not say.")

    @model_validator(mode="after")
    def _source_fields(self) -> Self:
        if self.source == "url":
            if not self.url:
                raise ValueError("source 'url' needs 'url'")
            if self.id or self.include or self.revision:
                raise ValueError("source 'url' takes 'url', not 'id', 'include' or 'revision'")
        else:
            if not self.id:
                raise ValueError(f"source {self.source!r} needs 'id' (the repository id)")
            if self.url:
                raise ValueError(f"'url' is only for source 'url', not {self.source!r}")
        if self.file and self.include and not any(fnmatch.fnmatch(self.file, p) for p in self.include):
            raise ValueError(f"file {self.file!r} matches none of the include patterns, so it would never be downloaded")
        return self

    @property
    def file_name_from_url(self) -> str | None:
        return self.url.rstrip("/").rsplit("/", 1)[-1] if self.url else None


class ModelStoreConfig(StrictModel):
    """Where models live on a unit and how they are fetched."""

    root: AbsPath = Field("/models", description="Root of the model store (seed 002 uses `/models/<id>`).")
    modelscope_version: SingleLine = Field("1.40.2", description="Pinned `modelscope` CLI version, installed in its own virtualenv.")
    modelscope_endpoint: Url | None = Field(None, description="`MODELSCOPE_ENDPOINT` for a mirror or the lab; the public hub when unset.")
    hf_version: SingleLine = Field("2.4.0", description="Pinned `huggingface_hub` (its `hf` CLI), installed beside modelscope when a model comes from Hugging Face.")
    hf_endpoint: Url | None = Field(None, description="`HF_ENDPOINT` for Hugging Face mirrors; the public hub when unset.")
    fetch: Literal["auto", "unit", "controller", "fleet"] = Field(
        "auto", description="`unit`: each unit downloads from the hub. `controller`: the controller downloads each file "
        "once into `controller_cache` and serves it to the units on `serve_address` while the deploy runs (units "
        "without internet, or many units and one uplink). `fleet`: the same cache, sent to all the units that lack a "
        "file in one authenticated multicast session (uftp) from `serve_address`, so that N units take close to the time of one "
        "(docs/distribution.md); what a unit misses comes from the cache over HTTP as with `controller`. Shared engine "
        "builds and Docker image archives then travel the same way. `auto`: `fleet` for a model two or more units of a "
        "deploy serve, when the controller can send (uftp installed here, and those units on its LAN, or "
        "`serve_address`), `unit` otherwise; the deploy says why when it cannot.",
    )
    controller_cache: SingleLine = Field(
        ".cache/models", description="For every `fetch` but `unit`: the controller's model cache, relative to where pyinfra runs."
    )
    serve_address: BindAddress | None = Field(
        None, description="For `fetch: controller` and `fleet`: the controller's address the units reach (for `auto`, found "
        "from this machine's route to them when unset); the cache is served there, "
        "without authentication (models are public files), only while a deploy runs.",
    )
    serve_port: int = Field(7081, ge=1024, le=65535, description="For every `fetch` but `unit`: the port the cache is served on.")
    fanout_group: FanoutGroup = Field(
        "232.7.0.1", description="For `fetch: fleet` and `auto`: the multicast group uftp announces on; the session's data goes to the "
        "next address. Source-specific (232.0.0.0/8), so that units take sessions only from the controller.",
    )
    fanout_port: int = Field(7044, ge=1024, le=65535, description="For `fetch: fleet` and `auto`: the UDP port the units' uftpd "
                             "listens on, only while a deploy sends them files.")
    fanout_rate_mbit: int = Field(900, ge=1, description="For `fetch: fleet` and `auto`: the rate uftp sends at, in Mbit/s: a little "
                                  "under the slowest link between the controller and the units (900 for 1 GbE).")
    prune: bool = Field(False, description="Delete the model folders thorfleet filled under `root` that no model of the host uses any more; otherwise they stay.")

    @model_validator(mode="after")
    def _served_somewhere(self) -> Self:
        if self.fetch in ("controller", "fleet") and not self.serve_address:
            raise ValueError(f"fetch {self.fetch!r} needs serve_address: the controller's address that the units reach")
        if self.fetch in ("fleet", "auto") and ":" in str(self.serve_address or ""):
            raise ValueError(f"fetch {self.fetch!r} needs an IPv4 serve_address: the fan-out's multicast group is IPv4")
        return self

    def dest(self, model: ModelConfig) -> str:
        if model.dest:
            return model.dest
        if model.id:
            return f"{self.root}/{model.id}"
        return f"{self.root}/url/{model.file_name_from_url}"

    def load_path(self, model: ModelConfig) -> str:
        """What an engine is pointed at: the model's file, or its folder."""
        dest = self.dest(model)
        if model.file:
            return f"{dest}/{model.file}"
        if model.source == "url":
            return f"{dest}/{model.file_name_from_url}"
        return dest


def shared_destinations(config: Any) -> Iterator[tuple[tuple[str, ...], str]]:
    """Two different models in one folder would overwrite each other's files."""
    seen: dict[str, str] = {}
    for name, model in config.models.items():
        dest = config.model_store.dest(model)
        if dest in seen and config.models[seen[dest]] != model:
            yield ("models", name, "dest"), f"{dest} is also the folder of model {seen[dest]!r}; they would overwrite each other"
        seen.setdefault(dest, name)


def listeners(host: Any) -> list[Listener]:
    """uftpd binds its port on every address (multicast needs it), only while a deploy sends files; it
    joins the group on the unit's inventory address and takes sessions only from the controller's key."""
    store = host.config.model_store
    if store.fetch not in ("fleet", "auto"):
        return []
    return [Listener(("model_store", "fanout_port"), "0.0.0.0", store.fanout_port, "uftpd (the models' fan-out, during a deploy)",
                     privileged=True)]
