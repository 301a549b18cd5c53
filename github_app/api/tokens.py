"""Installation access tokens, shared by every web and worker process.

A token is minted once per (API host, installation, requested scope) and kept, encrypted, in
Redis when REDIS_URL is set and in the database otherwise. It is handed out only with at least
TOKEN_MIN_VALIDITY left, so a long step never starts with a token about to die; a lock makes
concurrent callers wait for one mint instead of each minting their own.
"""

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TypeGuard
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from github_app.models import InstallationAccessToken
from integrations.crypto import decrypt, encrypt

TOKEN_MIN_VALIDITY = timedelta(minutes=5)
MINT_LOCK_SECONDS = 30


@dataclass(frozen=True)
class StoredToken:
    token: str
    expires_at: datetime

    @property
    def fresh(self) -> bool:
        return self.expires_at - timezone.now() >= TOKEN_MIN_VALIDITY


class RedisTokenStore:
    prefix = "github-installation-token:"

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url)

    def read(self, key: str) -> StoredToken | None:
        raw = self.redis.get(self.prefix + key)
        if raw is None:
            return None
        entry = json.loads(raw)
        return StoredToken(token=decrypt(entry["token"]), expires_at=datetime.fromisoformat(entry["expires_at"]))

    def write(self, key: str, stored: StoredToken) -> None:
        entry = json.dumps({"token": encrypt(stored.token), "expires_at": stored.expires_at.isoformat()})
        self.redis.set(self.prefix + key, entry, exat=int(stored.expires_at.timestamp()))

    @contextmanager
    def mint_lock(self, key: str) -> Iterator[None]:
        with self.redis.lock(f"{self.prefix}lock:{key}", timeout=MINT_LOCK_SECONDS, blocking_timeout=MINT_LOCK_SECONDS):
            yield


class DatabaseTokenStore:
    def read(self, key: str) -> StoredToken | None:
        row = InstallationAccessToken.objects.filter(cache_key=key, token__isnull=False).first()
        if row is None or row.token is None or row.expires_at is None:
            return None
        return StoredToken(token=row.token, expires_at=row.expires_at)

    def write(self, key: str, stored: StoredToken) -> None:
        InstallationAccessToken.objects.update_or_create(
            cache_key=key, defaults={"token": stored.token, "expires_at": stored.expires_at}
        )

    @contextmanager
    def mint_lock(self, key: str) -> Iterator[None]:
        """The row lock of the key's row, held for the mint (SQLite: its write lock)."""
        InstallationAccessToken.objects.get_or_create(cache_key=key)
        with transaction.atomic():
            InstallationAccessToken.objects.select_for_update().get(cache_key=key)
            yield


@cache
def _redis_store(url: str) -> RedisTokenStore:
    return RedisTokenStore(url)


def token_store() -> RedisTokenStore | DatabaseTokenStore:
    return _redis_store(settings.REDIS_URL) if settings.REDIS_URL else DatabaseTokenStore()


def token_key(*, installation_id: int, permissions: dict | None = None, repositories: list[str] | None = None) -> str:
    """Tokens differ by API host (github.com or an Enterprise Server), installation and scope."""
    api = urlsplit(settings.GITHUB_API_BASE_URL)
    scope = json.dumps({"permissions": permissions or {}, "repositories": sorted(repositories or [])}, sort_keys=True)
    return f"{api.netloc}{api.path}:{installation_id}:{hashlib.sha256(scope.encode()).hexdigest()[:16]}"


def installation_token(
    *,
    installation_id: int,
    mint,
    permissions: dict | None = None,
    repositories: list[str] | None = None,
    rejected: str | None = None,
) -> str:
    """A token with at least TOKEN_MIN_VALIDITY left, minted through `mint(installation_id,
    permissions, repositories) -> (token, expires_at)` only when none is stored. `rejected` is a
    token GitHub answered 401 to: it is replaced, unless another process replaced it already."""
    store = token_store()
    key = token_key(installation_id=installation_id, permissions=permissions, repositories=repositories)

    def usable(stored: StoredToken | None) -> TypeGuard[StoredToken]:
        return stored is not None and stored.fresh and stored.token != rejected

    stored = store.read(key)
    if usable(stored):
        return stored.token
    with store.mint_lock(key):
        stored = store.read(key)  # another process may have minted while we waited
        if usable(stored):
            return stored.token
        token, expires_at = mint(installation_id, permissions, repositories)
        store.write(key, StoredToken(token=token, expires_at=expires_at))
        return token
