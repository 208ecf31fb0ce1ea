"""Errors as RFC 9457 problem details (`application/problem+json`), for every failure path:
HTTP errors raised by routes and dependencies, parameter validation, and anything unexpected
(logged, answered 500 without internals)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class InvalidParameter(BaseModel):
    location: list[str | int] = Field(examples=[["query", "start"]])
    message: str = Field(examples=["Input should be a valid date"])
    kind: str = Field(examples=["date_from_datetime_parsing"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(ge=400, le=599, examples=[404])
    detail: str | None = Field(default=None, examples=["no lead 42 for this tenant"])
    instance: str | None = Field(default=None, examples=["/v1/leads/42"])
    errors: list[InvalidParameter] | None = None


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    headers: dict[str, str] | None = None,
    errors: list[InvalidParameter] | None = None,
) -> ProblemResponse:
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return ProblemResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


async def _http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else None
    return problem_response(request, error.status_code, detail, headers=error.headers)


async def _validation_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        InvalidParameter(
            location=[str(part) if not isinstance(part, int) else part for part in e["loc"]],
            message=e["msg"],
            kind=e["type"],
        )
        for e in error.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, e.location))}: {e.message}" for e in errors)
    return problem_response(request, 422, summary or "invalid request", errors=errors)


async def _unstorable_value(request: Request, error: Exception) -> ProblemResponse:
    """A value that passed validation but that Postgres cannot hold (a NUL character in
    text, a number out of its column's range) is the caller's input, not our fault."""
    assert isinstance(error, psycopg.DataError)
    return problem_response(request, 422, f"a value cannot be stored: {error}")


async def _unexpected_error(request: Request, error: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(request, 500, "internal error; it has been logged")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.DataError, _unstorable_value)
    app.add_exception_handler(Exception, _unexpected_error)


# Every operation documents these; `app.py` moves them to the problem media type.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": HTTPStatus(status).phrase}
    for status in (400, 401, 403, 404, 422, 429)
}


def problem_media_type_in_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are documented as `application/problem+json`, which is what they are."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema
