"""API keys for the write endpoints: kept only as SHA-256 hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from app.config import Environment, Settings

logger = logging.getLogger(__name__)

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Required by POST, PATCH and DELETE on /items when API keys are configured.",
)


class ApiKeys:
    """The set of accepted keys, as hashes. Empty means writes are open (development only)."""

    def __init__(self, keys: list[str]) -> None:
        self._hashes = [_digest(key) for key in keys]

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeys:
        """Collect keys from API_KEYS and API_KEYS_FILE; refuse production without any."""
        keys = [secret.get_secret_value() for secret in settings.api_keys]
        if settings.api_keys_file is not None:
            lines = settings.api_keys_file.read_text(encoding="utf-8").splitlines()
            keys += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not keys and settings.app_env is Environment.PRODUCTION:
            raise RuntimeError(
                "APP_ENV=production needs API keys (API_KEYS or API_KEYS_FILE); refusing to start"
            )
        if not keys:
            logger.warning("no API keys configured: write endpoints are open (development only)")
        return cls(keys)

    @property
    def enabled(self) -> bool:
        """True when writes need a key."""
        return bool(self._hashes)

    def accepts(self, candidate: str) -> bool:
        """Check a key against every stored hash, without stopping early."""
        supplied = _digest(candidate)
        matched = False
        for known in self._hashes:
            matched |= hmac.compare_digest(supplied, known)
        return matched


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


async def require_api_key(
    request: Request, supplied: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Allow the request when keys are off or the X-API-Key header holds an accepted key."""
    keys: ApiKeys = request.app.state.api_keys
    if not keys.enabled:
        return
    if not supplied:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="API key required in the X-API-Key header",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    if not keys.accepts(supplied):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="API key not accepted")


WriteAccess = Annotated[None, Depends(require_api_key)]
