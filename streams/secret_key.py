"""The pseudonymization keys: read from files or the environment, checked, never shown."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer, key_id_for
from usage_pipeline.streams.config import StreamSettings

MIN_KEY_BYTES = 32
KEY_VARIABLE = "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY"
KEY_FILE_VARIABLE = "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE"
PREVIOUS_VARIABLE = "USAGE_PIPELINE_STREAM__PREVIOUS_KEY_FILES"
DERIVED_KEY_ID = re.compile(r"k[0-9a-f]{8}")


class PseudonymizationKeyError(RuntimeError):
    """A key is missing or unusable; the message never contains a key."""


def load_pseudonymizer(settings: StreamSettings) -> Pseudonymizer:
    """The pseudonymizer of the configured key and its previous keys; raises
    PseudonymizationKeyError for a missing, short or mismatched key."""
    key = _checked(_read_key(settings), "the pseudonymization key")
    previous = [
        _previous(key_id, path, key) for key_id, path in settings.previous_key_files.items()
    ]
    key_id = settings.key_id or key_id_for(key)
    if key_id in settings.previous_key_files:
        raise PseudonymizationKeyError(
            f"{PREVIOUS_VARIABLE} names the current key id {key_id}: a previous key needs its own"
        )
    return Pseudonymizer(key, key_id, previous=previous)


def _previous(key_id: str, path: Path, current: bytes) -> Pseudonymizer:
    what = f"the previous key {key_id}"
    key = _checked(_read_file(path, what), what)
    if key == current:
        raise PseudonymizationKeyError(f"{what} is the current key: rotate to a new one")
    # A default id is derived from its key, so a file swapped for another one is caught here.
    if DERIVED_KEY_ID.fullmatch(key_id) and key_id_for(key) != key_id:
        raise PseudonymizationKeyError(
            f"{what}: the file {path} holds key {key_id_for(key)}, not {key_id}"
        )
    return Pseudonymizer(key, key_id)


def _checked(key: bytes, what: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymizationKeyError(
            f"{what} has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed"
        )
    return key


def _read_key(settings: StreamSettings) -> bytes:
    if settings.pseudonymization_key_file is not None:
        return _read_file(settings.pseudonymization_key_file, "the key file")
    if settings.pseudonymization_key is not None:
        try:
            return base64.b64decode(settings.pseudonymization_key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise PseudonymizationKeyError(f"{KEY_VARIABLE} is not valid base64") from None
    raise PseudonymizationKeyError(
        f"no pseudonymization key: set {KEY_FILE_VARIABLE} to a file of at least "
        f"{MIN_KEY_BYTES} random bytes (e.g. `head -c 32 /dev/urandom > key`), "
        f"or {KEY_VARIABLE} to their base64"
    )


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PseudonymizationKeyError(f"cannot read {what} {path}: {exc.strerror}") from None
