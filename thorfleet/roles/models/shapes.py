"""What the memory plan needs to know of a model, remembered on the controller: its size on disk and,
for a GGUF file, its shape (core/model_shape.py).

`known` reads only the controller (the remembered facts in `<controller_cache>/model-shapes.json`,
or the file itself in the controller's model cache), so `thorfleet validate` and the deploy's
pre-flight never wait on the network. `learn` asks the hub: the file listing for the size and a
range request for the header's first megabytes (`thorfleet hosts --memory` does, once per model).
"""

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from thorfleet.core.model_shape import HeaderError, ModelFacts, ModelShape, read_shape
from thorfleet.roles.models.config import ModelConfig, ModelStoreConfig
from thorfleet.roles.models.controller_cache import cache_key, file_url
from thorfleet.roles.models.hub import TIMEOUT, HubError, model_files

HEADER_BYTES = 64 << 20  # the header of a GGUF with a 256k-token vocabulary is under 16 MiB


def _memo_path(store: ModelStoreConfig) -> Path:
    return Path(store.controller_cache).expanduser() / "model-shapes.json"


def _memo_key(model: ModelConfig) -> str:
    return f"{cache_key(model)}/{model.file or ''}"


def _memo(store: ModelStoreConfig) -> dict[str, Any]:
    try:
        found = json.loads(_memo_path(store).read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _is_gguf(model: ModelConfig) -> bool:
    return (model.file or model.url or "").endswith(".gguf")


def known(model: ModelConfig, store: ModelStoreConfig) -> ModelFacts | None:
    """What the controller already knows of the model, without the network; None: nothing yet."""
    entry = _memo(store).get(_memo_key(model))
    if entry is not None:
        return ModelFacts(entry["size_bytes"], ModelShape.from_json(entry["shape"]) if entry["shape"] else None)
    cached = Path(store.controller_cache).expanduser() / cache_key(model) / (model.file or "")
    if _is_gguf(model) and cached.is_file():
        with cached.open("rb") as stream:
            return ModelFacts(model.size_bytes or cached.stat().st_size, read_shape(stream))
    return None


def learn(model: ModelConfig, store: ModelStoreConfig) -> ModelFacts:
    """Ask the hub (and remember): the size of the files a unit downloads, and the GGUF header."""
    facts = known(model, store)
    if facts is not None and (facts.shape or not _is_gguf(model)):
        return facts
    files = model_files(model, store)
    sizes = [f.size for f in files if f.size is not None]
    size = model.size_bytes or (sum(sizes) if len(sizes) == len(files) else None)
    shape = _header_from_hub(model, store) if _is_gguf(model) else None
    facts = ModelFacts(size, shape)
    memo = _memo(store)
    memo[_memo_key(model)] = {"size_bytes": size, "shape": shape.to_json() if shape else None}
    path = _memo_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(memo, indent=1, sort_keys=True) + "\n")
    return facts


def _header_from_hub(model: ModelConfig, store: ModelStoreConfig) -> ModelShape:
    url = file_url(model, store, model.file or "")
    request = urllib.request.Request(url, headers={"Range": f"bytes=0-{HEADER_BYTES - 1}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return read_shape(response)
    except urllib.error.HTTPError as err:
        raise HubError(f"{url} answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise HubError(f"{url} could not be read: {getattr(err, 'reason', err)}") from None
    except HeaderError as err:
        raise HubError(f"{model.file} from {url}: {err}") from None
