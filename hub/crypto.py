"""Personal data encrypted at rest: AES-GCM field encryption and HMAC blind indexes.

A value is stored as `enc1:<key id>:<base64url(nonce || ciphertext || tag)>`, its column
name as associated data (a value copied into another column does not decrypt). The key
ring holds several ids, one current: new values use the current key, old ids stay
readable until `hub keys rotate` has rewritten them. Equality lookups (an ID number, a
phone, a blocking key) go through an HMAC-SHA256 of the value under a separate index key,
so a copy of the database alone reveals neither.

Keys come from the settings (`HUB_DATA_KEY` / `HUB_DATA_KEYS` / `HUB_KEY_FILE`,
`HUB_INDEX_KEY`). With none configured, development mode creates a random key file under
var/ on first use and says so in the log; production mode refuses to start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, LargeBinary, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from hub.errors import DomainError

if TYPE_CHECKING:
    from hub.settings import Settings

PREFIX = "enc1:"
DEV_KEY_FILE = Path(__file__).resolve().parent.parent / "var" / "dev-keys.json"


class KeyConfigError(RuntimeError):
    """The key settings are missing or malformed (raised at start-up, not per request)."""


class DataKeyError(DomainError):
    """A stored value cannot be decrypted: its key id is not in the key ring, or the key
    is wrong (the value does not authenticate)."""

    code = "DATA_KEY_UNAVAILABLE"


def _decode_key(raw: str, what: str) -> bytes:
    raw = raw.strip()
    try:
        key = (
            bytes.fromhex(raw)
            if len(raw) == 64
            else base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        )
    except (ValueError, binascii.Error):
        raise KeyConfigError(f"{what} is not base64 or hex") from None
    if len(key) != 32:
        raise KeyConfigError(f"{what} must be 32 bytes (AES-256 / HMAC-SHA256), got {len(key)}")
    return key


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    current: str
    index_key: bytes
    source: str  # where it came from (a path or "settings"), never the key

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyConfigError(f"current data key id {self.current!r} is not in the key ring")
        for kid in self.keys:
            if not kid or ":" in kid or len(kid) > 32:
                raise KeyConfigError(f"bad key id {kid!r}: 1-32 characters, no ':'")

    def encrypt(self, data: bytes, aad: bytes) -> str:
        nonce = os.urandom(12)
        ct = AESGCM(self.keys[self.current]).encrypt(nonce, data, aad)
        return f"{PREFIX}{self.current}:{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str, aad: bytes) -> bytes:
        kid, _, body = token[len(PREFIX) :].partition(":")
        key = self.keys.get(kid)
        if key is None:
            raise DataKeyError(
                f"A stored value was encrypted with key {kid!r}, which is not configured."
            )
        try:
            raw = base64.urlsafe_b64decode(body)
            return AESGCM(key).decrypt(raw[:12], raw[12:], aad)
        except (InvalidTag, ValueError, binascii.Error):
            raise DataKeyError(
                f"A stored value does not decrypt with key {kid!r} (wrong key or damaged value)."
            ) from None

    def blind(self, value: str) -> str:
        """The HMAC-SHA256 of `value` (hex, 64 characters): what equality lookups compare."""
        return hmac.new(self.index_key, value.encode(), hashlib.sha256).hexdigest()


def key_id_of(token: object) -> str | None:
    """The key id a stored value was encrypted with (None: not encrypted)."""
    if isinstance(token, bytes) and token.startswith(PREFIX.encode()):
        token = token.decode("ascii", "replace")
    if isinstance(token, str) and token.startswith(PREFIX):
        return token[len(PREFIX) :].partition(":")[0]
    return None


def _from_file(path: Path) -> tuple[dict[str, str], str | None, str | None]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise KeyConfigError(f"key file {path} cannot be read: {type(e).__name__}") from None
    return dict(data.get("keys") or {}), data.get("current"), data.get("index_key")


def _create_dev_file(path: Path) -> None:
    """Write a fresh development key file atomically (first writer wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = {
        "current": "dev1",
        "keys": {"dev1": new_key()},
        "index_key": new_key(),
        "note": "development only: generated by the hub because no key was configured",
    }
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    try:
        os.link(tmp, path)  # fails if another process made it first: theirs is kept
        from hub.logs import get_logger

        get_logger("hub.crypto").warning(
            "crypto.dev_key_created",
            path=str(path),
            note="development only: configure HUB_DATA_KEY and HUB_INDEX_KEY in production",
        )
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def load_keyring(settings: Settings) -> KeyRing:
    """The key ring the settings describe; in development, a generated key file if none."""
    keys: dict[str, str] = {k: v.get_secret_value() for k, v in settings.data_keys.items()}
    current = settings.data_key_current
    index = settings.index_key.get_secret_value() if settings.index_key else None
    source = "settings"
    if settings.data_key is not None:
        keys[settings.data_key_id] = settings.data_key.get_secret_value()
        current = current or settings.data_key_id
    path = settings.key_file
    if path is None and not keys and settings.mode != "production":
        path = DEV_KEY_FILE
        if not path.exists():
            _create_dev_file(path)
    if path is not None:
        file_keys, file_current, file_index = _from_file(Path(path))
        keys = {**file_keys, **keys}
        current = current or file_current
        index = index or file_index
        source = str(path)
    if not keys:
        raise KeyConfigError(
            "no data key: set HUB_DATA_KEY (or HUB_DATA_KEYS / HUB_KEY_FILE) and HUB_INDEX_KEY;"
            " production mode never generates one"
        )
    if not index:
        raise KeyConfigError("no index key: set HUB_INDEX_KEY (a separate 32-byte key)")
    decoded = {kid: _decode_key(v, f"data key {kid!r}") for kid, v in keys.items()}
    return KeyRing(decoded, current or sorted(decoded)[-1], _decode_key(index, "index key"), source)


_lock = threading.Lock()
_ring: KeyRing | None = None


def configure(settings: Settings | None = None) -> KeyRing:
    """Load (or reload) the process's key ring; start-up calls it so a bad key fails early."""
    global _ring
    if settings is None:
        from hub.settings import get_settings

        settings = get_settings()
    ring = load_keyring(settings)
    with _lock:
        _ring = ring
    return ring


def use(ring: KeyRing | None) -> None:
    """Install a key ring (tests, the rotate command); None: reload from settings on next use."""
    global _ring
    with _lock:
        _ring = ring


def keyring() -> KeyRing:
    ring = _ring
    return ring if ring is not None else configure()


def blind(value: str) -> str:
    return keyring().blind(value)


# Column types: transparent to the code above them (ORM and Core alike)


class EncryptedString(TypeDecorator[str]):
    """A string column stored encrypted: VARCHAR without a length (the ciphertext is longer
    than the value; PostgreSQL columns are altered to it, SQLite never enforced one)."""

    impl = String
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose
        self.aad = purpose.encode()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().encrypt(str(value).encode(), self.aad)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value  # not yet encrypted (before the migration ran): `hub keys rotate` fixes it
        return keyring().decrypt(value, self.aad).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON column whose value is stored as one encrypted JSON string."""

    impl = JSON
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose
        self.aad = purpose.encode()

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        return keyring().encrypt(data.encode(), self.aad)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and value.startswith(PREFIX):
            return json.loads(keyring().decrypt(value, self.aad))
        return value


class EncryptedBytes(TypeDecorator[bytes]):
    """Raw bytes (an inbound message as received) stored encrypted."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose
        self.aad = purpose.encode()

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return keyring().encrypt(bytes(value), self.aad).encode("ascii")

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        value = bytes(value)
        if not value.startswith(PREFIX.encode()):
            return value
        return keyring().decrypt(value.decode("ascii"), self.aad)


class BlindIndex(TypeDecorator[str]):
    """A lookup column holding HMAC(value): writes and comparisons hash the value, so
    `col == x` and `col.in_(xs)` work unchanged; reading it back gives the hash."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else blind(value)
