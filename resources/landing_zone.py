"""The landing-zone contract: how titles, originals and dubs are named, and their partition keys.

```
<root>/<title_id>/original.<ext>     first audio stream = original-language audio
<root>/<title_id>/dubs/<lang>.<ext>  first audio stream = the dub in language <lang>
<root>/<title_id>/title.json         optional: {"original_language": "en", ...}
```

Partition keys may not contain ``| , [ ]`` (Dagster's multi-partition separator and list syntax), so
title ids are slugged and language tags are validated (ISO 639-1/2/3 with an optional region, as
in ``pt-BR`` or ``es-419``) and normalised to lower case.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "MEDIA_EXTENSIONS",
    "LandingZoneError",
    "slug_title",
    "normalise_language",
    "is_media_file",
]

MEDIA_EXTENSIONS = frozenset(
    {
        ".wav", ".flac", ".aif", ".aiff", ".mp3", ".m4a", ".aac", ".ac3", ".eac3", ".ec3", ".ogg",
        ".oga", ".opus", ".mka", ".mp4", ".m4v", ".mov", ".mkv", ".mxf", ".ts", ".m2ts", ".mpg",
        ".mpeg", ".webm", ".avi", ".dts", ".w64", ".caf",
    }
)
"""File endings treated as media in the landing zone (anything PyAV decodes may be added)."""

_SLUG_MAX = 80
_REGION = re.compile(r"^(?:[a-z]{2}|[0-9]{3})$")


class LandingZoneError(ValueError):
    """A name in the landing zone breaks the contract; the message says which and why."""


@functools.lru_cache(maxsize=1 << 16)
def slug_title(name: str) -> str:
    """Partition-key slug of a title folder name.

    Accents are folded to ASCII, everything outside ``[a-z0-9._-]`` becomes ``_``; the result is
    at most 80 characters. ``"Le Dîner, Part 1"`` → ``"le_diner_part_1"``.

    Raises
    ------
    LandingZoneError
        If nothing usable is left of the name.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9._-]+", "_", folded).strip("._-")[:_SLUG_MAX].strip("._-")
    if not slug:
        raise LandingZoneError(f"title folder {name!r} has no letters or digits to make an id from")
    return slug


@functools.lru_cache(maxsize=4096)
def normalise_language(tag: str) -> str:
    """Validate a language tag and return its partition key.

    Accepts an ISO 639-1 (``fr``), 639-2/T or /B (``fra``, ``fre``) or 639-3 code, optionally
    followed by a region (``pt-BR``, ``es_419``). Returns it lower-cased with ``-``
    (``"pt-br"``); the language part is kept as given (``fre`` stays ``fre``).

    Raises
    ------
    LandingZoneError
        If the tag is not a language.
    """
    import pycountry

    parts = re.split(r"[-_]", tag.strip().lower())
    if not 1 <= len(parts) <= 2 or not parts[0]:
        raise LandingZoneError(f"{tag!r} is not a language tag (expected e.g. 'fr', 'deu', 'pt-BR')")
    code = parts[0]
    found = None
    if re.fullmatch(r"[a-z]{2}", code):
        found = pycountry.languages.get(alpha_2=code)
    elif re.fullmatch(r"[a-z]{3}", code):
        found = pycountry.languages.get(alpha_3=code) or _bibliographic(code)
    if found is None:
        raise LandingZoneError(f"{tag!r} is not an ISO 639 language code")
    if len(parts) == 2 and not _REGION.match(parts[1]):
        raise LandingZoneError(
            f"{tag!r}: region {parts[1]!r} must be two letters (BR) or three digits (419)"
        )
    return "-".join(parts)


def _bibliographic(code: str):
    import pycountry

    for language in pycountry.languages:
        if getattr(language, "bibliographic", None) == code:
            return language
    return None


def is_media_file(name: str) -> bool:
    """Whether a file name in the landing zone is a media file (by its ending; hidden files not)."""
    if name.startswith("."):
        return False
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in MEDIA_EXTENSIONS
