"""What a model is made of, asked of its hub from the controller: each file's path, size and sha256.

ModelScope: GET <endpoint>/api/v1/models/<id>/repo/files?Recursive=true[&Revision=…] (the listing
`modelscope download` itself uses). Hugging Face: GET <endpoint>/api/models/<id>/tree/<revision>
?recursive=true, whose LFS entries carry the sha256 (`lfs.oid`). A plain URL: the config's
`sha256` and `size_bytes`. The sha256 given in the config always wins over the hub's.
"""

import fnmatch
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from thorfleet.roles.models.config import ModelConfig, ModelStoreConfig

MODELSCOPE = "https://www.modelscope.cn"
HUGGINGFACE = "https://huggingface.co"
TIMEOUT = 30


@dataclass(frozen=True)
class HubFile:
    path: str  # relative to the model's folder
    size: int | None
    sha256: str | None


class HubError(Exception):
    """The hub could not say what a model is made of."""


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        raise HubError(f"{url} answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise HubError(f"{url} could not be read: {getattr(err, 'reason', err)}") from None


def _modelscope(model: ModelConfig, endpoint: str) -> list[HubFile]:
    url = f"{endpoint.rstrip('/')}/api/v1/models/{model.id}/repo/files?Recursive=true"
    if model.revision:
        url += f"&Revision={urllib.parse.quote(model.revision)}"
    data = _get_json(url).get("Data") or {}
    entries = data.get("Files", []) if isinstance(data, dict) else data
    return [HubFile(e["Path"], e.get("Size"), e.get("Sha256") or None) for e in entries if e.get("Type", "blob") == "blob"]


def _huggingface(model: ModelConfig, endpoint: str) -> list[HubFile]:
    url = f"{endpoint.rstrip('/')}/api/models/{model.id}/tree/{urllib.parse.quote(model.revision or 'main', safe='')}?recursive=true"
    entries = _get_json(url)
    return [HubFile(e["path"], e.get("size"), (e.get("lfs") or {}).get("oid")) for e in entries if e.get("type") == "file"]


_asked: dict[str, list[HubFile]] = {}


def model_files(model: ModelConfig, store: ModelStoreConfig) -> list[HubFile]:
    """The files of `model` that a unit must hold (after `include`), with what they must be; each
    model is asked of its hub once per deploy, however many hosts and roles need the answer."""
    key = model.model_dump_json() + store.model_dump_json()
    if key not in _asked:
        _asked[key] = _listed(model, store)
    return _asked[key]


def _listed(model: ModelConfig, store: ModelStoreConfig) -> list[HubFile]:
    if model.source == "url":
        name = model.file_name_from_url or ""
        return [HubFile(name, model.size_bytes, model.sha256.get(name))]
    if model.source == "modelscope":
        files = _modelscope(model, store.modelscope_endpoint or MODELSCOPE)
    else:
        files = _huggingface(model, store.hf_endpoint or HUGGINGFACE)
    if model.include:
        files = [f for f in files if any(fnmatch.fnmatch(f.path, p) for p in model.include)]
    if not files:
        raise HubError(f"{model.id}: no file matches {model.include or 'the repository'}")
    return [HubFile(f.path, f.size, model.sha256.get(f.path, f.sha256)) for f in files]
