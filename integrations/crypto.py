"""Encryption at rest for credentials: MultiFernet over ENCRYPTION_KEY.

The first key encrypts; every key decrypts, so keys rotate by putting a new one first, re-saving
the rows (`manage.py rotate_encryption_keys`), then dropping the old key.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


class DecryptionError(Exception):
    """No configured key decrypts a stored value: a key was dropped before its data was rotated."""


@cache
def _multi_fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.ENCRYPTION_KEY])


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs) -> None:
    if setting == "ENCRYPTION_KEY":
        _multi_fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _multi_fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _multi_fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        # The message names no value: the ciphertext is itself a secret.
        raise DecryptionError("no key in ENCRYPTION_KEY decrypts a stored value") from None
