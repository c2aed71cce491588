"""Client file names, kept as metadata only (evidence is stored by SHA-256, never by name)."""

from __future__ import annotations

import os
import unicodedata

NAME_MAX = 200


def clean_name(name: str | bytes | None) -> str:
    """``name`` made safe to keep and show: the last path component, NFC, no control, format
    (e.g. RTL override) or unpaired surrogate characters, at most :data:`NAME_MAX` characters.

    A name read from disk with undecodable bytes (surrogate escapes) keeps them as U+FFFD.
    """
    if isinstance(name, bytes):
        text = name.decode("utf-8", "replace")
    else:
        text = os.fsencode(name).decode("utf-8", "replace") if name else ""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return text[:NAME_MAX] or "unnamed"
