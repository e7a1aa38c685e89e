"""The pseudonymization key: read from a file or the environment, checked, never shown."""

from __future__ import annotations

import base64
import binascii

from streams.anonymize.pseudonym import Pseudonymizer, key_id_for
from usage_pipeline.settings import StreamSettings

MIN_KEY_BYTES = 32
KEY_VARIABLE = "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY"
KEY_FILE_VARIABLE = "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE"


class PseudonymizationKeyError(RuntimeError):
    """The key is missing or unusable; the message never contains the key."""


def load_pseudonymizer(settings: StreamSettings) -> Pseudonymizer:
    """The pseudonymizer of the configured key; raises PseudonymizationKeyError without one."""
    key = _read_key(settings)
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymizationKeyError(
            f"the pseudonymization key has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed"
        )
    return Pseudonymizer(key, settings.key_id or key_id_for(key))


def _read_key(settings: StreamSettings) -> bytes:
    if settings.pseudonymization_key_file is not None:
        try:
            return settings.pseudonymization_key_file.read_bytes()
        except OSError as exc:
            raise PseudonymizationKeyError(
                f"cannot read the key file {settings.pseudonymization_key_file}: {exc.strerror}"
            ) from None
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
