"""Media stores: where the landing zone lives (a local folder, or object storage in production).

A store lists titles, their original track and their dubs, gives each file a content version
(which changes when a file is replaced) and hands a local path to decoders.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import PrivateAttr

from ml.errors import MissingMediaError
from resources.landing_zone import LandingZoneError, is_media_file, normalise_language, slug_title

__all__ = ["Track", "TitleListing", "MediaStore", "LocalMediaStore", "ObjectStoreMediaStore"]


@dataclass(frozen=True)
class Track:
    """One audio file of the landing zone.

    Attributes
    ----------
    title : str
        Partition key of the title (slugged folder name).
    language : str or None
        Partition key of the dub's language; ``None`` for the original.
    name : str
        Path relative to the store's root, with ``/`` separators.
    version : str
        Content version: changes when the file is replaced.
    modified_s : float or None
        When the file was last written (seconds since the epoch) in a folder, where a file being
        copied in is visible before it is whole; ``None`` on object storage, where an object
        appears whole once uploaded.
    """

    title: str
    language: str | None
    name: str
    version: str
    modified_s: float | None = None

    @property
    def kind(self) -> str:
        return "original" if self.language is None else "dub"


@dataclass
class TitleListing:
    """What the landing zone holds for one title."""

    title: str
    folder: str
    original: Track | None = None
    dubs: dict[str, Track] = field(default_factory=dict)
    original_language: str | None = None
    problems: list[str] = field(default_factory=list)
    """Contract breaks found in this title's folder (bad language tags, duplicates, ...)."""


@dataclass(frozen=True)
class _Entry:
    name: str
    is_dir: bool


class MediaStore(ConfigurableResource):
    """A landing zone of titles. Subclasses say how to list, version and fetch files."""

    @abstractmethod
    def _list(self, relpath: str) -> list[_Entry]:
        """Entries of a folder relative to the root ('' is the root); [] if it does not exist."""

    @abstractmethod
    def _version(self, relpath: str) -> str:
        """Content version of a file."""

    def _modified(self, relpath: str) -> float | None:
        """When a file was last written, where a file can be seen while it is written (see
        :attr:`Track.modified_s`)."""
        return None

    def _version_and_modified(self, relpath: str) -> tuple[str, float | None]:
        """:meth:`_version` and :meth:`_modified` of a file (a store may ask for both at once)."""
        return self._version(relpath), self._modified(relpath)

    @abstractmethod
    def _read_bytes(self, relpath: str) -> bytes:
        """Whole content of a small file."""

    @abstractmethod
    def describe(self, track: Track) -> str:
        """Where a track lives, for messages (an absolute path or URL)."""

    @abstractmethod
    def describe_root(self) -> str:
        """Where the landing zone is, for messages."""

    @abstractmethod
    @contextmanager
    def local_path(self, track: Track, progress: Callable[[float, float | None], None] | None = None) -> Iterator[Path]:
        """A local path to the track's bytes for as long as the context lasts; ``progress(bytes_done,
        bytes_total)`` hears of a copy it takes to get there (object storage)."""

    # -- the contract, shared by every store ------------------------------------------------
    def scan(self, timeout_s: float | None = None) -> tuple[dict[str, TitleListing], list[str]]:
        """Every title of the landing zone, keyed by title id, and problems found at the root.

        Raises
        ------
        TimeoutError
            If listing takes longer than ``timeout_s`` (checked after each title folder: a single
            listing that hangs is not interrupted).
        """
        titles: dict[str, TitleListing] = {}
        problems: list[str] = []
        start = time.monotonic()
        entries = sorted(self._list(""), key=lambda e: e.name)
        for done, entry in enumerate(entries):
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                raise TimeoutError(
                    f"listing took longer than {timeout_s:g} s ({done} of {len(entries)} entries of the root listed)"
                )
            if not entry.is_dir or entry.name.startswith((".", "_")):
                continue
            try:
                title = slug_title(entry.name)
            except LandingZoneError as exc:
                problems.append(str(exc))
                continue
            if title in titles:
                problems.append(
                    f"title folders {titles[title].folder!r} and {entry.name!r} both map to id "
                    f"{title!r}: rename one"
                )
                continue
            titles[title] = self._scan_title(title, entry.name)
        return titles, problems

    def _scan_title(self, title: str, folder: str) -> TitleListing:
        listing = TitleListing(title=title, folder=folder)
        originals = []
        has_dubs_folder = False
        for entry in self._list(folder):
            if entry.is_dir and entry.name == "dubs":
                has_dubs_folder = True
            elif entry.name == "title.json":
                listing.original_language = self._original_language(folder, listing)
            elif not entry.is_dir and is_media_file(entry.name) and entry.name.rsplit(".", 1)[0] == "original":
                originals.append(entry.name)
        if len(originals) == 1:
            name = f"{folder}/{originals[0]}"
            listing.original = Track(title, None, name, *self._version_and_modified(name))
        elif len(originals) > 1:
            listing.problems.append(
                f"{folder}: several original files {sorted(originals)}: keep exactly one"
            )
        if has_dubs_folder:
            ignored = []
            for entry in sorted(self._list(f"{folder}/dubs"), key=lambda e: e.name):
                if entry.is_dir or not is_media_file(entry.name):
                    if not entry.name.startswith("."):
                        ignored.append(entry.name)
                    continue
                stem = entry.name.rsplit(".", 1)[0]
                try:
                    language = normalise_language(stem)
                except LandingZoneError as exc:
                    listing.problems.append(f"{folder}/dubs/{entry.name}: {exc}")
                    continue
                if language in listing.dubs:
                    listing.problems.append(
                        f"{folder}/dubs: two files for language {language!r} "
                        f"({listing.dubs[language].name.rsplit('/', 1)[1]}, {entry.name}): keep one"
                    )
                    continue
                name = f"{folder}/dubs/{entry.name}"
                listing.dubs[language] = Track(title, language, name, *self._version_and_modified(name))
            if ignored:
                # one line for the lot: a folder of thousands of stray files is one problem
                shown = ", ".join(ignored[:_IGNORED_SHOWN]) + (", ..." if len(ignored) > _IGNORED_SHOWN else "")
                listing.problems.append(
                    f"{folder}/dubs: {len(ignored)} entr{'y' if len(ignored) == 1 else 'ies'} that are not media "
                    f"files ignored ({shown}): dubs/ holds <language>.<ext> files only"
                )
        return listing

    def _original_language(self, folder: str, listing: TitleListing) -> str | None:
        try:
            data = json.loads(self._read_bytes(f"{folder}/title.json"))
            language = data.get("original_language") if isinstance(data, dict) else None
            return normalise_language(language) if language else None
        except (ValueError, LandingZoneError) as exc:
            listing.problems.append(f"{folder}/title.json: {exc}")
            return None

    def title(self, title: str) -> TitleListing:
        """The listing of one title: the root is listed, and the title's folder only (a run reads one
        title of a catalogue of thousands).

        Raises
        ------
        MissingMediaError
            If the landing zone has no folder for the title (a title renamed or removed since its run
            was queued).
        """
        for entry in sorted(self._list(""), key=lambda e: e.name):
            if not entry.is_dir or entry.name.startswith((".", "_")):
                continue
            try:
                if slug_title(entry.name) == title:  # the first folder of that id, as scan() takes it
                    return self._scan_title(title, entry.name)
            except LandingZoneError:
                continue
        raise MissingMediaError(
            self.describe(Track(title, None, title, "")),
            "no such title folder (renamed or removed from the landing zone since the run was requested?)",
        )

    def original(self, title: str) -> Track:
        """The title's original track.

        Raises
        ------
        MissingMediaError
            If the title has no ``original.<ext>`` (or several).
        """
        listing = self.title(title)
        if listing.original is None:
            detail = "; ".join(listing.problems) or "no original.<ext> file"
            raise MissingMediaError(
                self.describe(Track(title, None, f"{listing.folder}/original.*", "")),
                f"title {title!r} has no usable original track ({detail}): deliver "
                f"{listing.folder}/original.<ext>",
            )
        return listing.original

    def dub(self, title: str, language: str) -> Track:
        """The dub of a title in one language.

        Raises
        ------
        MissingMediaError
            If there is no such dub.
        """
        listing = self.title(title)
        if language not in listing.dubs:
            raise MissingMediaError(
                self.describe(Track(title, language, f"{listing.folder}/dubs/{language}.*", "")),
                f"title {title!r} has no dub in {language!r}",
            )
        return listing.dubs[language]


_IGNORED_SHOWN = 3
"""Names of ignored entries of a dubs folder shown in its problem line."""


def _stat_version(size: int, stamp: object) -> str:
    return hashlib.sha256(f"{size}:{stamp}".encode()).hexdigest()[:16]


class LocalMediaStore(MediaStore):
    """A landing zone in a local (or mounted) folder."""

    root: str

    def _path(self, relpath: str) -> Path:
        return Path(self.root) / relpath if relpath else Path(self.root)

    def _list(self, relpath: str) -> list[_Entry]:
        path = f"{self.root}/{relpath}" if relpath else self.root
        # os.scandir knows directories from the listing itself: no stat per entry (a scan of a
        # catalogue of 20,000 titles lists 40,000 folders); a folder that is not there lists nothing
        try:
            with os.scandir(path) as entries:
                return [_Entry(entry.name, entry.is_dir()) for entry in entries]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _version(self, relpath: str) -> str:
        stat = self._path(relpath).stat()
        return _stat_version(stat.st_size, stat.st_mtime_ns)

    def _version_and_modified(self, relpath: str) -> tuple[str, float | None]:
        stat = os.stat(f"{self.root}/{relpath}")  # one stat for both
        return _stat_version(stat.st_size, stat.st_mtime_ns), stat.st_mtime

    def _modified(self, relpath: str) -> float | None:
        return self._path(relpath).stat().st_mtime

    def _read_bytes(self, relpath: str) -> bytes:
        return self._path(relpath).read_bytes()

    def describe(self, track: Track) -> str:
        return str(self._path(track.name))

    def describe_root(self) -> str:
        return str(self._path(""))

    @contextmanager
    def local_path(self, track: Track, progress: Callable[[float, float | None], None] | None = None) -> Iterator[Path]:
        yield self._path(track.name)  # nothing to copy


class ObjectStoreMediaStore(MediaStore):
    """A landing zone on object storage (any fsspec URL: ``s3://bucket/landing``, ``gs://...``).

    Files are copied to ``cache_dir`` (keyed by content version) before decoding; copies leave the
    cache once unused for :data:`CACHE_UNUSED_S`.
    """

    url: str
    cache_dir: str = os.path.join(tempfile.gettempdir(), "dubsync-media-cache")
    _fs: object = PrivateAttr(default=None)
    _base: str = PrivateAttr(default="")

    def _filesystem(self):
        if self._fs is None:
            from fsspec.core import url_to_fs

            self._fs, self._base = url_to_fs(self.url)
        return self._fs

    def _full(self, relpath: str) -> str:
        fs = self._filesystem()
        return f"{self._base.rstrip('/')}/{relpath}" if relpath else self._base or fs.root_marker

    def _list(self, relpath: str) -> list[_Entry]:
        fs = self._filesystem()
        full = self._full(relpath)
        if not fs.isdir(full):
            return []
        return [
            _Entry(info["name"].rstrip("/").rsplit("/", 1)[-1], info["type"] == "directory")
            for info in fs.ls(full, detail=True)
        ]

    def _version(self, relpath: str) -> str:
        info = self._filesystem().info(self._full(relpath))
        stamp = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("created")
        return _stat_version(int(info.get("size") or 0), stamp)

    def _read_bytes(self, relpath: str) -> bytes:
        return self._filesystem().cat_file(self._full(relpath))

    def describe(self, track: Track) -> str:
        return f"{self.url.rstrip('/')}/{track.name}"

    def describe_root(self) -> str:
        return self.url

    @contextmanager
    def local_path(self, track: Track, progress: Callable[[float, float | None], None] | None = None) -> Iterator[Path]:
        suffix = Path(track.name).suffix
        target = Path(self.cache_dir) / f"{track.title}-{track.language or 'original'}-{track.version}{suffix}"
        if target.exists():
            os.utime(target)  # in use: see _prune_cache
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            # a copy of this caller's own: two steps of a title (its signature and its shots) may fetch
            # the same file at once, and each renames a complete copy over the other's
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            try:
                self._copy(track, partial, progress)
                partial.replace(target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        _prune_cache(target)
        yield target


    def _copy(self, track: Track, target: Path, progress: Callable[[float, float | None], None] | None) -> None:
        fs = self._filesystem()
        total = fs.info(self._full(track.name)).get("size")
        done = 0
        with fs.open(self._full(track.name), "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(8 << 20):
                dst.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(float(done), float(total) if total else None)


CACHE_UNUSED_S = 24 * 3600.0
"""A cached copy unused this long is removed when any track is fetched into the same cache: earlier
versions of replaced files, titles gone from the landing zone, killed fetches' partial copies. A run
decoding a copy touches it whenever it asks for it."""

_CACHED = re.compile(r"\.?.+-[0-9a-f]{16}(\.[A-Za-z0-9]+)?(\.[0-9a-f]{32}\.part)?")
"""The names :meth:`ObjectStoreMediaStore.local_path` gives copies (``<title>-<language>-<version>.<ext>``)
and their partial files; nothing else in the folder is touched."""


def _prune_cache(current: Path) -> None:
    """Remove the copies in ``current``'s cache folder, other than ``current``, unused for
    :data:`CACHE_UNUSED_S`."""
    now = time.time()
    for entry in os.scandir(current.parent):
        if entry.name == current.name or not _CACHED.fullmatch(entry.name):
            continue
        try:
            if now - entry.stat().st_mtime > CACHE_UNUSED_S:
                os.unlink(entry.path)
        except FileNotFoundError:  # removed meanwhile by another step
            continue
