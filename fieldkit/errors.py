"""Exception types shared by the library, the CLI and the web app.

Every error carries the HTTP status the web app should answer with, so views need no
``try``/``except`` (the app installs one handler for :class:`FieldkitError`).
"""

from __future__ import annotations


class FieldkitError(Exception):
    """Base class of every error FieldKit raises on purpose."""

    http_status = 500
    exit_code = 1


class InputError(FieldkitError):
    """Bad input from a user or a file. The message names the file, row or field and why."""

    http_status = 400
    exit_code = 2


class UnsafeFileError(InputError):
    """A file that looks hostile (zip slip, zip bomb, external entities, forbidden driver)."""

    http_status = 422


class UnsupportedFormatError(InputError):
    """A file whose format FieldKit does not read."""

    http_status = 415


class CRSError(InputError):
    """A coordinate reference system that is missing, unknown or implausible."""


class ConfigError(FieldkitError):
    """Bad configuration (settings, manifest, taxonomy)."""

    exit_code = 3


class NotFoundError(FieldkitError):
    """A requested object does not exist."""

    http_status = 404


class ConflictError(FieldkitError):
    """The request conflicts with the current state (e.g. an illegal transition)."""

    http_status = 409


class StorageError(FieldkitError):
    """The evidence store or database could not complete a write (disk full, permissions)."""

    http_status = 507
