"""Encryption at rest for personal and special-category fields.

Values are sealed with Fernet (AES-128-CBC with HMAC-SHA256) under the data key.
``HATEREPORT_DATA_KEY`` may hold several comma-separated keys: the first encrypts,
all decrypt, so keys can be rotated. The key is process-wide configuration, set
once at start-up by :func:`configure`.

Keyed hashes (of channel identities and follow-up codes) use a separate, stable hash
key, ``HATEREPORT_HASH_KEY``: rotating the data key must not orphan them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class DataKeyError(RuntimeError):
    """The data key is missing or malformed."""


class _Keyring:
    """The configured data key(s); unset until :func:`configure` runs."""

    def __init__(self) -> None:
        self.fernet: MultiFernet | None = None
        self.hash_key: bytes = b""

    def require(self) -> MultiFernet:
        if self.fernet is None:
            raise DataKeyError("the data key is not configured (HATEREPORT_DATA_KEY)")
        return self.fernet


_KEYRING = _Keyring()


def configure(keys: str, hash_key: str) -> None:
    """Install the Fernet key(s) that seal and open values, and the keyed-hash key."""
    parts = [part.strip() for part in keys.split(",") if part.strip()]
    if not parts:
        raise DataKeyError("HATEREPORT_DATA_KEY is empty")
    try:
        _KEYRING.fernet = MultiFernet([Fernet(part.encode()) for part in parts])
    except ValueError as exc:
        raise DataKeyError(
            "HATEREPORT_DATA_KEY must be Fernet keys (32 url-safe base64-encoded bytes)"
        ) from exc
    if len(hash_key.strip()) < 32:
        raise DataKeyError("HATEREPORT_HASH_KEY must be at least 32 characters of secret")
    _KEYRING.hash_key = hashlib.sha256(b"hatereport-hash-key:" + hash_key.strip().encode()).digest()


def load_or_create_key_file(path: Path) -> str:
    """Read the key file at ``path``, creating it with a new key and mode 0600 if absent."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key().decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def seal(plaintext: str) -> str:
    """Encrypt ``plaintext`` under the current data key."""
    return _KEYRING.require().encrypt(plaintext.encode("utf-8")).decode("ascii")


def open_sealed(token: str) -> str:
    """Decrypt a value sealed by :func:`seal`."""
    try:
        return _KEYRING.require().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise DataKeyError("a stored value could not be decrypted with the data key") from exc


def keyed_hash(value: str) -> str:
    """A keyed hash (HMAC-SHA256) of ``value``: lets us match it without storing it."""
    _KEYRING.require()
    return hmac.new(_KEYRING.hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else open_sealed(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document stored encrypted."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(open_sealed(value))
