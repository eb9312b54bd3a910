"""The tenants' semantic layer connections, encrypted at rest with Fernet (`cryptography`).

A connection (Cube URL, token or signing key; a database URL with its password) is stored in
``tenants.semantic_layer`` as ``{"type": "cube", "fernet": "gAAAA…"}``: the type stays readable for
operators, everything else is one Fernet token, so a dump of the database reveals no secret and no
URL. `SecretBox` holds the keys: the first encrypts, all decrypt (`MultiFernet`), which is how a key
is rotated (see `semsync.config.SecretsSettings`).

A row written before encryption (a plain JSON connection) still reads; the next catalog write or
``python -m starter catalog rotate-key`` encrypts it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from semsync.errors import ConfigurationError

ENVELOPE = "fernet"
KEY_FILE_NAME = "secrets.key"
KEYS_SETTING = "SEMSYNC_SECRETS__KEYS"


def new_key() -> str:
    """A fresh Fernet key (urlsafe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.strip().encode())
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{KEYS_SETTING}: a key is not a Fernet key (32 url-safe base64-encoded bytes); "
            "`python -m starter catalog new-key` prints one"
        ) from None


class SecretBox:
    """Encrypts and decrypts connection JSON with the configured keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError(f"{KEYS_SETTING} has no key")
        self._primary = _fernet(keys[0])
        self._all = MultiFernet([self._primary, *(_fernet(k) for k in keys[1:])])

    @classmethod
    def configured(cls, keys: str | None, state_dir: Path) -> SecretBox:
        """`keys` (comma-separated, `SEMSYNC_SECRETS__KEYS`), else the embedded stack's key file in
        `state_dir` (created 0600 if absent)."""
        if keys is not None:
            return cls([k for k in keys.split(",") if k.strip()])
        return cls([dev_key(state_dir / KEY_FILE_NAME)])

    def seal(self, connection: dict[str, Any]) -> dict[str, Any]:
        """`connection` (plain JSON with secrets in clear) as stored: its type and one Fernet token."""
        token = self._primary.encrypt(json.dumps(connection, sort_keys=True).encode()).decode()
        return {"type": connection.get("type", "sql"), ENVELOPE: token}

    def open(self, stored: dict[str, Any], *, tenant: str) -> dict[str, Any]:
        """The plain connection of a stored value (a legacy plain value is returned as it is)."""
        if ENVELOPE not in stored:
            return stored
        try:
            return json.loads(self._all.decrypt(stored[ENVELOPE].encode()))
        except InvalidToken:
            raise ConfigurationError(
                f"tenant {tenant!r}: its semantic layer secrets were encrypted with a key this process "
                f"does not have; give every process the same {KEYS_SETTING}"
            ) from None

    def is_current(self, stored: dict[str, Any]) -> bool:
        """Whether `stored` is sealed with the primary key (nothing to re-encrypt)."""
        if ENVELOPE not in stored:
            return False
        try:
            self._primary.decrypt(stored[ENVELOPE].encode())
        except InvalidToken:
            return False
        return True


#: how long a reader waits for a key file another process is writing (it appears whole, by link)
KEY_FILE_WAIT_S = 2.0


def _read_key_file(path: Path) -> str | None:
    """The key in `path`, None if there is no file; refuses a file others can read, as ssh does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd) as file:
        mode = os.fstat(fd).st_mode
        if mode & 0o077:
            raise ConfigurationError(
                f"{path}: the key file is readable by others (mode {mode & 0o777:04o}); "
                f"`chmod 600 {path}` if it is yours, or set {KEYS_SETTING}"
            )
        return file.read().strip()


def dev_key(path: Path) -> str:
    """The key in `path`, created (mode 0600) on first use: the embedded stack's default.

    The key is written to a private temporary file in the same directory and linked into place, so
    a process starting at the same moment sees either no file or the whole key, never an empty one;
    the first link wins and everyone uses its key. An empty file (one written by an older version
    that crashed) is waited for briefly, then refused with a clear error.
    """
    deadline = time.monotonic() + KEY_FILE_WAIT_S
    while True:
        key = _read_key_file(path)
        if key is None:
            key = _create_key_file(path)
        if key:
            return key
        if time.monotonic() >= deadline:
            raise ConfigurationError(f"{path}: the key file is empty; remove it (no secret was sealed "
                                     f"with it) or set {KEYS_SETTING}")
        time.sleep(0.05)


def _create_key_file(path: Path) -> str:
    """A new key linked in at `path`, or the key another process linked in first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)  # atomic, and unlike rename it never replaces a key already there
        except FileExistsError:  # another process linked its key first: use theirs
            return _read_key_file(path) or ""
    finally:
        os.unlink(temporary)
    return key
