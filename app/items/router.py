"""HTTP endpoints for items. Synchronous: each runs one SQL statement in a worker thread."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import RowMapping

from app.items.schemas import MAX_ID, ItemCreate, ItemPage, ItemRead, ItemUpdate
from app.items.service import ItemsService
from app.observability import ITEMS_WRITTEN
from app.security import WriteAccess

router = APIRouter(prefix="/items", tags=["items"])


def items_service(request: Request) -> ItemsService:
    """The service built at start-up.

    Called directly rather than declared as a FastAPI dependency: resolving a dependency
    costs tens of microseconds per request, a measurable share of a primary-key read.
    """
    service: ItemsService = request.app.state.items_service
    return service


ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="Item id.", examples=[1])]
IfMatch = Annotated[
    str | None,
    Header(
        description='ETag from a previous GET (e.g. `"3"`); the change applies only if the item '
        "still has that version, else 412.",
        examples=['"1"'],
    ),
]

_ETAG = re.compile(r'(?:W/)?"(\d{1,18})"')


Responses = dict[int | str, dict[str, Any]]


def _detail(description: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }


_NOT_FOUND: Responses = {404: _detail("No item has this id.", "Item 42 not found")}
_UNAVAILABLE: Responses = {
    503: _detail("The database is unavailable.", "Database unavailable, retry later")
}
_STALE: Responses = {
    412: _detail("If-Match does not name the current version.", "Item 42 has changed")
}
_BAD_BODY: Responses = {
    400: _detail("The body is not valid UTF-8.", "There was an error parsing the body"),
    413: _detail("The body is larger than MAX_BODY_BYTES.", "Request body larger than the limit"),
}
_AUTH: Responses = {
    401: _detail("API keys are configured and none was sent.", "API key required"),
    403: _detail("The API key sent is not accepted.", "API key not accepted"),
}


_ITEM_FIELDS = tuple(ItemRead.model_fields)


def item_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A stored row as the plain dict `ItemRead` would serialize, for `pydantic_core.to_json`.

    Rows come from our own table through typed columns (exact `Decimal`, UTC `datetime`), so
    validating them again as `ItemRead` would only cost time: about 6 us per item, most of a
    page's serialization. `tests/items/test_serialization.py` checks the bytes are identical.
    """
    return {name: row[name] for name in _ITEM_FIELDS}


def _item_response(row: RowMapping, status_code: int = 200, **headers: str) -> Response:
    body = to_json(item_json(row))
    return Response(
        body,
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": f'"{row["version"]}"', **headers},
    )


def _expected_versions(if_match: str | None) -> list[int] | None:
    """None means "any version" (no header, or `*`); an unparsable tag matches nothing."""
    if if_match is None or if_match.strip() == "*":
        return None
    return [int(tag) for tag in _ETAG.findall(if_match)]


def _changes(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ItemRead,
    responses={**_BAD_BODY, **_AUTH, **_UNAVAILABLE},
    summary="Create an item",
)
def create_item(body: ItemCreate, request: Request, _auth: WriteAccess) -> Response:
    """Store a new item; the response has its URL in `Location` and its version in `ETag`."""
    row = items_service(request).create(body.model_dump())
    ITEMS_WRITTEN.labels(operation="create").inc()
    return _item_response(row, status.HTTP_201_CREATED, Location=f"/items/{row['id']}")


@router.get("", response_model=ItemPage, responses=_UNAVAILABLE, summary="List items")
def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip.")] = 0,
) -> Response:
    """One page of items ordered by id, with the total count for paging."""
    rows, total = items_service(request).list_page(limit, offset)
    page = {
        "items": [item_json(row) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
    return Response(to_json(page), media_type="application/json")


@router.get(
    "/{item_id}",
    response_model=ItemRead,
    responses={**_NOT_FOUND, **_UNAVAILABLE},
    summary="Get an item",
)
def get_item(item_id: ItemId, request: Request) -> Response:
    """One item; its `ETag` names the version for a later conditional PATCH or DELETE."""
    return _item_response(items_service(request).get(item_id))


@router.patch(
    "/{item_id}",
    response_model=ItemRead,
    responses={**_BAD_BODY, **_AUTH, **_NOT_FOUND, **_STALE, **_UNAVAILABLE},
    summary="Change some fields of an item",
)
def update_item(
    item_id: ItemId,
    body: ItemUpdate,
    request: Request,
    _auth: WriteAccess,
    if_match: IfMatch = None,
) -> Response:
    """Change only the fields sent. With `If-Match`, only if nobody changed the item since."""
    row = items_service(request).update(item_id, _changes(body), _expected_versions(if_match))
    ITEMS_WRITTEN.labels(operation="update").inc()
    return _item_response(row)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_AUTH, **_NOT_FOUND, **_STALE, **_UNAVAILABLE},
    summary="Delete an item",
)
def delete_item(
    item_id: ItemId, request: Request, _auth: WriteAccess, if_match: IfMatch = None
) -> Response:
    """Delete the item. With `If-Match`, only if nobody changed it since."""
    items_service(request).delete(item_id, _expected_versions(if_match))
    ITEMS_WRITTEN.labels(operation="delete").inc()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
