"""Where dubsync writes what people take away: conformed dubs, the catalogue report, vendor sheets.

Beside the artifacts (``<artifact root>/deliverables``), a local folder or any URL UPath understands.
Files are written under a hidden temporary name and renamed when complete (on object storage the
upload is one put), so no reader ever sees half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource
from upath import UPath

__all__ = ["DeliverablesStore"]


class DeliverablesStore(ConfigurableResource):
    """The deliverables folder.

    Attributes
    ----------
    root : str
        Folder or URL; conformed dubs go to ``<root>/conformed/<title>/dubs/<lang>.<ext>``, the
        report to ``<root>/report/``, vendor sheets to ``<root>/sheets/<title>/<lang>.html``.
    """

    root: str

    def _path(self, relative: str) -> UPath:
        return UPath(self.root) / relative

    def is_local(self) -> bool:
        return "://" not in self.root or self.root.startswith("file://")

    def location(self, relative: str) -> str:
        """Where ``relative`` is (a local path or a URL)."""
        return str(self._path(relative))

    def write_bytes(self, relative: str, data: bytes) -> str:
        """Write a file atomically; returns its location."""
        target = self._path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not self.is_local():
            target.write_bytes(data)
            return str(target)
        local = Path(target.path)
        temporary = local.with_name(f".{local.name}.{os.getpid()}.partial")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, local)
        finally:
            temporary.unlink(missing_ok=True)
        return str(local)

    @contextmanager
    def local_folder(self, relative: str) -> Iterator[Path]:
        """A local folder whose files end up in ``relative`` (the folder itself when the root is
        local; a temporary one uploaded file by file on exit otherwise)."""
        target = self._path(relative)
        if self.is_local():
            folder = Path(target.path)
            folder.mkdir(parents=True, exist_ok=True)
            yield folder
            return
        with tempfile.TemporaryDirectory(prefix="dubsync-deliverable-") as scratch:
            yield Path(scratch)
            target.mkdir(parents=True, exist_ok=True)
            for item in Path(scratch).iterdir():
                if item.is_file():
                    with item.open("rb") as source, (target / item.name).open("wb") as sink:
                        shutil.copyfileobj(source, sink)
