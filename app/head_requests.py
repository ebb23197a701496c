"""HEAD wherever GET works (RFC 9110 section 9.3.2): FastAPI routes only the methods declared."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """Pure ASGI: a HEAD request is served as its GET, with the same status and headers
    (`Content-Length` and `ETag` included) and no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # A copy: the access log outside still records the request as the HEAD it was.
        await self.app({**scope, "method": "GET"}, receive, send_without_body)
