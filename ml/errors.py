"""Errors raised by dubsync's algorithms.

Every error that comes from a media file names the file and the reason, so that the asset that met
it can show both to a QC operator.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DubsyncError",
    "ParameterError",
    "MediaError",
    "SilentMediaError",
    "MissingMediaError",
    "CheckpointError",
    "ConformError",
]


class DubsyncError(Exception):
    """Base class of every dubsync error."""


class ParameterError(DubsyncError, ValueError):
    """A parameter has a value the algorithm cannot use; the message names it."""


class MediaError(DubsyncError):
    """A media file cannot be used: unreadable, truncated, without audio, absurd duration, ...

    Parameters
    ----------
    path : str or Path
        The file that was being read.
    reason : str
        What is wrong with it, in words a QC operator can act on.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class SilentMediaError(MediaError):
    """The file decodes but holds no audible signal to match on."""


class MissingMediaError(MediaError):
    """A file the landing-zone contract requires is not there (for example the original track)."""


class ConformError(DubsyncError):
    """A dub cannot be conformed: its verdict has nothing to fix or too little evidence, the fix
    would pad more than the policy allows, or the conformed file did not re-check in sync (then
    nothing is written)."""


class CheckpointError(DubsyncError):
    """A model checkpoint cannot be used: missing, unreadable, or not the expected architecture.

    Parameters
    ----------
    path : str or Path
        The checkpoint file.
    reason : str
        What is wrong with it.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
