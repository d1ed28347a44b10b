"""The one exception type `mer` raises for bad input.

Every message names the offending file (when there is one) and the cause, on one
line, so that a batch over thousands of files can report its failures as a list.
"""

from __future__ import annotations

from os import PathLike


class MerError(Exception):
    """Bad input or a failed step that the user can act on.

    Parameters
    ----------
    message : str
        The cause, one line, e.g. ``"cannot decode audio (Format not recognised)"``.
    path : str or PathLike, optional
        The file the error is about; it is prefixed to the message.
    """

    def __init__(self, message: str, path: str | PathLike | None = None):
        self.cause = " ".join(str(message).split())  # one line, whatever the library said
        self.path = None if path is None else str(path)
        super().__init__(self.cause if self.path is None else f"{self.path}: {self.cause}")

    def with_path(self, path: str | PathLike) -> "MerError":
        """The same error, attributed to `path` (used when a step deep down had no file name)."""
        return self if self.path is not None else MerError(self.cause, path)
