"""HTTP endpoints for items. Synchronous: each runs one SQL statement in a worker thread."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    Header,
    Path,
    Query,
    Request,
    Response,
    status,
)
from pydantic import BaseModel, BeforeValidator
from sqlalchemy import RowMapping

from app.db import WorkerSlots
from app.errors import DatabaseUnavailableError, problem_responses
from app.items.schemas import MAX_ID, ItemCreate, ItemPage, ItemRead, ItemUpdate
from app.items.service import ItemNotFoundError, ItemsService, VersionMismatchError
from app.observability import ITEMS_WRITTEN
from app.security import WriteAccess

router = APIRouter(prefix="/items", tags=["items"])


# `async def`: FastAPI runs a `def` dependency on a worker thread, a hop that costs more
# than reading app.state.
async def items_service(request: Request) -> AsyncIterator[ItemsService]:
    """The service built at start-up, while this request holds a worker slot (app/db.py):
    503 with `Retry-After` when none is free within `DB_POOL_TIMEOUT`."""
    slots: WorkerSlots = request.app.state.worker_slots
    async with slots.hold():
        yield request.app.state.items_service


# scope="function": the slot is given back when the endpoint returns, not after the answer
# has been sent to a client that may read it slowly.
Items = Annotated[ItemsService, Depends(items_service, scope="function")]


def _plain_decimal_id(value: object) -> object:
    # int() would also read "1_0" as 10, " 10", "+10" and other scripts' digits.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("an item id is a plain decimal number, e.g. 42")
    return value


ItemId = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="Item id.", examples=[1]),
    BeforeValidator(_plain_decimal_id),
]
# RFC 9110 entity tags: optional W/, then a quoted string of visible characters but `"`,
# separated by commas and optional spaces or tabs.
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e]{0,64})"[ \t]*')
_ENTITY_TAGS = re.compile(rf"{_ENTITY_TAG.pattern}(,{_ENTITY_TAG.pattern})*")


IfNoneMatch = Annotated[
    str | None,
    Header(
        description='ETag of the copy the client holds (e.g. `"3"`); 304 without a body when '
        "the item still has that version.",
        examples=['"1"'],
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        description='ETag from a previous GET (e.g. `"3"`); the change applies only if the item '
        "still has that version, else 412.",
        examples=['"1"'],
    ),
]

# 400: a body that is not UTF-8 or two API keys; 401/403: API keys;
# 413: body over MAX_BODY_BYTES.
_WRITE_ERRORS = (400, 401, 403, 413, 422, DatabaseUnavailableError)


def _etag(row: RowMapping) -> str:
    return f'"{row["version"]}"'


# The endpoints answer with a Response they serialise from the schema themselves: for a
# `def` endpoint, FastAPI would validate a returned object again on a second worker thread.
# `response_model` stays on each route for the OpenAPI document.
def _json(body: BaseModel, status_code: int = 200, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag is not None else None
    return Response(
        body.model_dump_json(), status_code, headers=headers, media_type="application/json"
    )


def _item(row: RowMapping, status_code: int = 200) -> Response:
    return _json(ItemRead.model_validate(row), status_code, etag=_etag(row))


def _entity_tags(header: str) -> list[tuple[bool, str]]:
    """An `If-Match`/`If-None-Match` list as (weak, opaque tag) pairs. A garbled list names
    no tag, so it matches nothing: `If-Match` fails with 412, `If-None-Match` is ignored."""
    if not _ENTITY_TAGS.fullmatch(header):
        return []
    return [(weak == "W/", tag) for weak, tag in _ENTITY_TAG.findall(header)]


def _expected_versions(if_match: str | None) -> list[int] | None:
    """None means "any version" (no header, or `*`). Strong comparison (RFC 9110): a weak
    tag, or one that is no version of ours, matches nothing."""
    if if_match is None or if_match.strip() == "*":
        return None
    return [int(tag) for weak, tag in _entity_tags(if_match) if not weak and tag.isdigit()]


def _unchanged_since(if_none_match: str | None, row: RowMapping) -> bool:
    """Whether the client's copy is current: weak comparison, as RFC 9110 asks for GET."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag == str(row["version"]) for _, tag in _entity_tags(if_none_match))


@router.post(
    "",
    operation_id="items-create",
    status_code=status.HTTP_201_CREATED,
    response_model=ItemRead,
    responses=problem_responses(*_WRITE_ERRORS),
    summary="Create an item",
)
def create_item(body: ItemCreate, items: Items, _auth: WriteAccess) -> Response:
    """Store a new item; the response has its URL in `Location` and its version in `ETag`."""
    row = items.create(body.model_dump())
    ITEMS_WRITTEN.labels(operation="create").inc()
    response = _item(row, status.HTTP_201_CREATED)
    response.headers["Location"] = f"/items/{row['id']}"
    return response


@router.get(
    "",
    operation_id="items-list",
    response_model=ItemPage,
    responses=problem_responses(422, DatabaseUnavailableError),
    summary="List items",
)
def list_items(
    items: Items,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip.")] = 0,
) -> Response:
    """One page of items ordered by id, with the total count for paging."""
    rows, total = items.list_page(limit, offset)
    page = {"items": rows, "total": total, "limit": limit, "offset": offset}
    return _json(ItemPage.model_validate(page))


@router.get(
    "/{item_id}",
    operation_id="items-get",
    response_model=ItemRead,
    responses={
        304: {"description": "Not modified: the item still has the version in `If-None-Match`."},
        **problem_responses(400, 422, ItemNotFoundError, DatabaseUnavailableError),
    },
    summary="Get an item",
)
def get_item(item_id: ItemId, items: Items, if_none_match: IfNoneMatch = None) -> Response:
    """One item; its `ETag` names the version for a later conditional PATCH or DELETE.
    With `If-None-Match` naming the current version, 304 and no body."""
    row = items.get(item_id)
    if _unchanged_since(if_none_match, row):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": _etag(row)})
    return _item(row)


@router.patch(
    "/{item_id}",
    operation_id="items-update",
    response_model=ItemRead,
    responses=problem_responses(*_WRITE_ERRORS, ItemNotFoundError, VersionMismatchError),
    summary="Change some fields of an item",
)
def update_item(
    item_id: ItemId,
    body: ItemUpdate,
    items: Items,
    _auth: WriteAccess,
    if_match: IfMatch = None,
) -> Response:
    """Change only the fields sent. With `If-Match`, only if nobody changed the item since."""
    changes = body.model_dump(exclude_unset=True)
    row = items.update(item_id, changes, _expected_versions(if_match))
    ITEMS_WRITTEN.labels(operation="update").inc()
    return _item(row)


@router.delete(
    "/{item_id}",
    operation_id="items-delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(
        400, 401, 403, 422, ItemNotFoundError, VersionMismatchError, DatabaseUnavailableError
    ),
    summary="Delete an item",
)
def delete_item(
    item_id: ItemId, items: Items, _auth: WriteAccess, if_match: IfMatch = None
) -> Response:
    """Delete the item. With `If-Match`, only if nobody changed it since."""
    items.delete(item_id, _expected_versions(if_match))
    ITEMS_WRITTEN.labels(operation="delete").inc()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
