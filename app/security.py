"""Security: API keys for the write endpoints (kept only as SHA-256 hashes, compared in
constant time) and the security headers on every answer."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


async def api_keys(request: Request) -> ApiKeys:
    """The keys the application was built with."""
    keys: ApiKeys = request.app.state.api_keys
    return keys


async def require_api_key(
    request: Request,
    keys: Annotated[ApiKeys, Depends(api_keys)],
    supplied: Annotated[str | None, Security(api_key_header)],
) -> None:
    """Allow the request when keys are off or the X-API-Key header holds an accepted key."""
    # Proxies and frameworks disagree on which of two copies wins; refuse the ambiguity.
    if len(request.headers.getlist("x-api-key")) > 1:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="Send one X-API-Key header")
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


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# The interactive docs load Swagger UI from a CDN, so they get no restrictive CSP.
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOC_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


class SecurityHeadersMiddleware:
    """Pure ASGI: the browser-hardening headers on every answer (a strict CSP but on the docs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._api_headers = [*_SECURITY_HEADERS, _API_CSP]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _SECURITY_HEADERS if scope["path"] in _DOC_PATHS else self._api_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
