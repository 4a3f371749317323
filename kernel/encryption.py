"""Secrets at rest: MultiFernet-encrypted model fields and the masked hints shown instead.

Values are stored as ``fernet:v1:<token>``; the marker lets a value written before encryption was
turned on, or under another scheme, be told apart. Keys come from FIELD_ENCRYPTION_KEYS, newest
first: new values use the first key, any listed key decrypts, so a key is rotated by prepending
a new one and running ``manage.py rotate_encryption_keys``.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:v1:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold url-safe base64 Fernet keys of 32 bytes."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("Value is not an encrypted field value.")
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError(
            "An encrypted value cannot be read with the configured FIELD_ENCRYPTION_KEYS."
        ) from None


def rotate(stored: str) -> str:
    """Re-encrypt under the newest key."""
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text field encrypted at rest; Python sees plaintext, the database only ciphertext.

    An empty string stays empty so "no secret set" needs no decryption.
    """

    description = "Text encrypted with MultiFernet"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "kernel.encryption.EncryptedTextField", args, kwargs


def mask_secret(value: str | None) -> str:
    """A hint that identifies a secret without revealing it: ``sk-…9fA2``."""
    if not value:
        return ""
    if len(value) <= 8:
        return "…" + value[-2:] if len(value) > 4 else "…"
    head = value[:3] if not value[:3].isalnum() or "-" in value[:3] else value[:2]
    return f"{head}…{value[-4:]}"
