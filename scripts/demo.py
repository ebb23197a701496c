"""A one-minute tour of a running Itemsense service: `make demo`, or

    python scripts/demo.py --url http://127.0.0.1:8000 [--api-key KEY]

Checks health, creates a few items, changes one with `If-Match` (and shows the 412 a stale
version gets), lists the items and prints a few sentiment predictions. Exits 1 with a clear
message when the service cannot be reached or answers something unexpected.

Standard library only (urllib): the runtime dependencies, which `make demo` installs, do not
include an HTTP client.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DEMO_ITEMS = (
    {"name": "Desk lamp", "description": "Warm white, 40 W", "price": "19.99"},
    {"name": "Notebook", "description": "A5, dotted", "price": "4.50"},
    {"name": "Coffee grinder", "description": "Burr, 15 settings", "price": "89.00"},
)
DEMO_TEXTS = (
    "I love this lamp, it lights up the whole room!",
    "The grinder broke after two days. Total waste of money.",
    "Great value for the price, would buy again.",
    "Not bad at all, better than I expected.",
)


class DemoError(Exception):
    """The demo cannot go on; the message tells the user what to do."""


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers (lower-cased names) and parsed JSON body."""

    status: int
    headers: dict[str, str]
    body: Any = field(default=None)


class Client:
    """A tiny JSON-over-HTTP client for one base URL."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one request; any HTTP status is returned, only transport failures raise."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if self.api_key and method in {"POST", "PATCH", "DELETE"}:
            all_headers["X-API-Key"] = self.api_key
        request = urllib.request.Request(  # noqa: S310 - scheme checked in parse_args
            self.base_url + path, data=data, headers=all_headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return _reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:  # a non-2xx answer is still an answer
            return _reply(error.code, dict(error.headers), error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DemoError(
                f"cannot reach Itemsense at {self.base_url} ({reason}).\n"
                "Start it first, e.g. `make run` in another terminal, or pass --url."
            ) from error


def _reply(status: int, headers: dict[str, str], raw: bytes) -> Reply:
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return Reply(status, lowered, body)


def expect(reply: Reply, status: int, what: str) -> Reply:
    """Return the reply if it has the expected status, else stop with an explanation."""
    if reply.status == status:
        return reply
    detail = reply.body.get("detail") if isinstance(reply.body, dict) else reply.body
    hint = ""
    if reply.status == 401:
        hint = "\nWrites need an API key here: pass --api-key (or set ITEMSENSE_API_KEY)."
    elif reply.status == 403:
        hint = "\nThe API key was refused: check --api-key against the service's API_KEYS."
    raise DemoError(f"{what}: expected HTTP {status}, got {reply.status}: {detail}{hint}")


def check_health(client: Client) -> None:
    """Stop early, with the failing check, when the service is not ready."""
    reply = client.request("GET", "/health")
    if reply.status != 200 or not isinstance(reply.body, dict):
        checks = reply.body.get("checks") if isinstance(reply.body, dict) else reply.body
        raise DemoError(f"the service is up but not ready (HTTP {reply.status}): {checks}")
    checks = ", ".join(f"{name} {result}" for name, result in reply.body["checks"].items())
    print(f"Service at {client.base_url} is ready ({checks}).")


def create_items(client: Client) -> list[dict[str, Any]]:
    """Create the demo items and return them as stored."""
    created = []
    for item in DEMO_ITEMS:
        reply = expect(client.request("POST", "/items", item), 201, "creating an item")
        created.append({**reply.body, "etag": reply.headers.get("etag", "")})
    print(f"\nCreated {len(created)} items:")
    for item in created:
        print(f"  #{item['id']:<6} {item['name']:<16} {item['price']:>8}  ETag {item['etag']}")
    return created


def show_optimistic_locking(client: Client, item: dict[str, Any]) -> None:
    """Change a price with If-Match, then show that the old ETag is refused with 412."""
    path = f"/items/{item['id']}"
    first = expect(
        client.request("PATCH", path, {"price": "17.50"}, {"If-Match": item["etag"]}),
        200,
        "updating an item with If-Match",
    )
    stale = expect(
        client.request("PATCH", path, {"price": "1.00"}, {"If-Match": item["etag"]}),
        412,
        "updating with a stale If-Match",
    )
    print(
        f"\nPATCH {path} with If-Match {item['etag']}: price {item['price']} -> "
        f"{first.body['price']}, ETag now {first.headers.get('etag')}."
    )
    print(f"Same PATCH again with the old ETag: HTTP {stale.status} ({stale.body['detail']}).")


def list_items(client: Client) -> None:
    """Print the newest page of items and the total."""
    first = expect(client.request("GET", "/items?limit=1"), 200, "listing items")
    total = int(first.body["total"])
    offset = max(total - 5, 0)
    page = expect(client.request("GET", f"/items?limit=5&offset={offset}"), 200, "listing items")
    print(f"\nGET /items?limit=5&offset={offset} ({total} items in total):")
    for item in page.body["items"]:
        price = item["price"] if item["price"] is not None else "-"
        print(f"  #{item['id']:<6} {item['name']:<16} {price:>8}")


def show_predictions(client: Client) -> None:
    """Classify the demo texts in one batch and print label, confidence and text."""
    info = expect(client.request("GET", "/model/info"), 200, "reading the model info")
    reply = expect(
        client.request("POST", "/predict/batch", {"texts": list(DEMO_TEXTS)}),
        200,
        "predicting sentiment",
    )
    print(f"\nSentiment ({info.body['name']} {info.body['version']}):")
    for text, prediction in zip(DEMO_TEXTS, reply.body["predictions"], strict=True):
        print(f"  {prediction['label']:<8} {prediction['confidence']:6.1%}  {text}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; the URL must be http(s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="service base URL")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ITEMSENSE_API_KEY"),
        help="X-API-Key for the writes (default: $ITEMSENSE_API_KEY; not needed without keys)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    args = parser.parse_args(argv)
    if urllib.parse.urlsplit(args.url).scheme not in {"http", "https"}:
        parser.error(f"--url must start with http:// or https://, got {args.url!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tour; 0 on success, 1 with a message on stderr otherwise."""
    args = parse_args(argv)
    client = Client(args.url, args.api_key, args.timeout)
    try:
        check_health(client)
        created = create_items(client)
        show_optimistic_locking(client, created[0])
        list_items(client)
        show_predictions(client)
    except DemoError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    print(f"\nMore: {client.base_url}/docs (interactive API), {client.base_url}/metrics.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
