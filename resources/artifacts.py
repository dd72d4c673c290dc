"""Artifact IO manager: every asset value as one ``.npz`` file under a configurable root.

Values are dataclasses from ``ml`` (signatures, frame matches, verdicts): numpy fields are stored
as arrays, the other fields as JSON, and the class by name, so nothing is pickled. A file is
written under a temporary name and renamed when complete, so a failed or killed run never leaves
an artifact that a later run would trust; the next write of that artifact removes a killed run's
temporary file.

The root is any path UPath understands: a local folder by default, ``s3://bucket/artifacts`` in
production (with the matching fsspec package installed).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import time
import uuid
from typing import Any

import numpy as np
from dagster import AssetKey, ConfigurableIOManagerFactory, Failure, InputContext, OutputContext, UPathIOManager
from upath import UPath

__all__ = [
    "encode_artifact",
    "decode_artifact",
    "ArtifactIOManager",
    "ArtifactIOManagerFactory",
    "MODULE_ALIASES",
    "MissingArtifactError",
    "STALE_PARTIAL_S",
]

_ALLOWED_MODULE_PREFIX = "ml."
_META = "__meta__"

MODULE_ALIASES: dict[str, str] = {
    "ml.signatures": "ml.audio_sync.signatures",
    "ml.matching": "ml.audio_sync.matching",
    "ml.timeline": "ml.audio_sync.timeline",
    "ml.verdict": "ml.audio_sync.verdict",
    "ml.shots": "ml.picture.shots",
    "ml.faces": "ml.picture.faces",
    "ml.lipsync": "ml.picture.lipsync",
    "ml.syncnet": "ml.picture.syncnet",
    "ml.title_sync": "ml.picture.title_sync",
    "ml.audio": "ml.decoding.audio",
    "ml.video": "ml.decoding.video",
}
"""Where the classes of artifacts written under an earlier module path live now (the flat ``ml/`` of
before issue 21 → its packages): an artifact names its class by module, and stored artifacts must
still load after a move. Add a line here whenever an artifact class moves."""


def encode_artifact(value: Any) -> bytes:
    """Serialise an ``ml`` dataclass (numpy and JSON-able fields) to ``.npz`` bytes."""
    cls = type(value)
    if not dataclasses.is_dataclass(value) or not cls.__module__.startswith(_ALLOWED_MODULE_PREFIX):
        raise TypeError(
            f"artifacts must be dataclasses from the ml package, got {cls.__module__}.{cls.__qualname__}"
        )
    arrays: dict[str, np.ndarray] = {}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if isinstance(item, np.ndarray):
            arrays[f.name] = item
        else:
            fields[f.name] = item
    meta = {"class": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    arrays[_META] = np.frombuffer(json.dumps(meta, allow_nan=True).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode_artifact(data: bytes) -> Any:
    """Inverse of :func:`encode_artifact`."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        meta = json.loads(npz[_META].tobytes().decode())
        arrays = {k: npz[k] for k in npz.files if k != _META}
    module_name, qualname = meta["class"].split(":")
    module_name = MODULE_ALIASES.get(module_name, module_name)
    if not module_name.startswith(_ALLOWED_MODULE_PREFIX):
        raise TypeError(f"refusing to load artifact class {meta['class']}")
    cls = getattr(importlib.import_module(module_name), qualname)
    return cls(**meta["fields"], **arrays)


STALE_PARTIAL_S = 3600.0
"""A ``.partial`` file this much older than now is the leftover of a killed write (the writer of an
artifact renames it within seconds), and the next write of the same artifact removes it."""


def _sweep_partials(path: UPath) -> None:
    """Remove stale partial files of the artifact at ``path`` (a killed run's), keeping fresh ones (a
    concurrent write of the same partition may be under way)."""
    now = time.time()
    for leftover in path.parent.glob(f".{path.name}.*.partial"):
        try:
            if now - leftover.stat().st_mtime > STALE_PARTIAL_S:
                leftover.unlink(missing_ok=True)
        except (FileNotFoundError, AttributeError, KeyError, NotImplementedError):  # gone meanwhile, or no mtime here
            continue


class MissingArtifactError(Failure, FileNotFoundError):
    """An upstream artifact that was never written: a retry cannot make it appear, so the step fails
    at once with this message (a plain error would be retried by the assets' retry policy and end
    as "Exceeded max_retries")."""

    def __init__(self, message: str):
        Failure.__init__(self, description=message, allow_retries=False)
        FileNotFoundError.__init__(self, message)


class ArtifactIOManager(UPathIOManager):
    """Stores values as ``<root>/<asset key>/<partition key>.npz``; the ``|`` of a key is a folder,
    so a dub (``"fr|film_a"``) is ``<root>/<asset key>/fr/film_a.npz``, where the earlier
    title × language multi-partition put it."""

    extension: str = ".npz"

    def get_path_for_partition(self, context, path: UPath, partition: str) -> UPath:
        return super().get_path_for_partition(context, path, partition.replace("|", "/"))

    def partition_path(self, key: AssetKey, partition: str) -> UPath:
        """Where the artifact of ``key[partition]`` is stored."""
        return self._with_extension(self.get_path_for_partition(None, self._base_path.joinpath(*key.path), partition))

    def load_partition(self, key: AssetKey, partition: str) -> Any:
        """The stored value of ``key[partition]``, outside of a Dagster input: what a dub-level asset
        reads of its title's assets (Dagster has no partition mapping from a dub to its title)."""
        path = self.partition_path(key, partition)
        if not path.exists():
            raise MissingArtifactError(
                f"artifact {path} does not exist: materialise {key.to_user_string()}[{partition}] first"
            )
        return decode_artifact(path.read_bytes())

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        data = encode_artifact(obj)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        try:
            partial.write_bytes(data)
            partial.rename(path)
        except BaseException:
            partial.unlink(missing_ok=True)  # a failed write leaves nothing behind; a killed one a .partial
            raise
        _sweep_partials(path)

    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        if not path.exists():
            raise MissingArtifactError(
                f"artifact {path} does not exist: materialise the upstream asset "
                f"{context.upstream_output.asset_key.to_user_string() if context.upstream_output else ''} "
                "for this partition first"
            )
        return decode_artifact(path.read_bytes())


class ArtifactIOManagerFactory(ConfigurableIOManagerFactory):
    """Configurable artifact store.

    Attributes
    ----------
    root : str
        Folder or object-storage URL under which artifacts are written.
    """

    root: str

    def create_io_manager(self, context) -> ArtifactIOManager:
        return ArtifactIOManager(base_path=UPath(self.root))
