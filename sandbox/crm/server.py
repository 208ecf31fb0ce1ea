"""A HubSpot-style CRM API sandbox (CRM v3 objects, search, v4 associations) over HTTP.

Endpoints, in HubSpot's shapes:

* ``GET  /crm/v3/objects/{type}`` - list with ``limit`` (≤ 100), ``after`` (the next object
  id), ``properties``, ``propertiesWithHistory`` (then ``limit`` ≤ 50) and ``associations``;
  ``paging.next.after`` and ``paging.next.link`` while more remain.
* ``GET  /crm/v3/objects/{type}/{id}`` - one object, same options.
* ``POST /crm/v3/objects/{type}/search`` - ``filterGroups`` (OR of ANDed filters), one sort,
  ``properties``, ``limit`` ≤ 100 and an offset ``after``; paging stops at
  ``search_result_cap`` results (HubSpot's is 10,000): asking past it is a 400.
* ``POST /crm/v4/associations/{from}/{to}/batch/read`` - associated ids per object.
* ``GET  /crm/v3/pipelines/deals``, ``GET /crm/v3/properties/{type}``,
  ``GET /account-info/v3/details`` (which portal a token reaches).

Tenancy: one portal per tenant, and the bearer token picks it, as a HubSpot private-app token
belongs to exactly one portal. Tokens are ``tenant_tokens`` (token -> tenant id) when given;
otherwise every tenant's token is ``portal_token(access_token, tenant_id)``, i.e.
``"<access_token>.<tenant_id>"``. Anything else answers 401 in HubSpot's JSON error shape.

Time travel: the server shows the world as of ``now()``. Objects appear at their create
time and change when their history says so, so a sync that advances ``now`` sees exactly
the objects modified in between.
"""

from __future__ import annotations

import threading
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from sandbox.crm.data import (
    BOOL,
    DATETIME,
    DEAL_STAGES,
    DEFAULT_PROPERTIES,
    NUMBER,
    OBJECT_TYPES,
    PIPELINE_ID,
    PROPERTIES,
    CrmData,
    CrmPortal,
    CrmRecord,
)
from sandbox.http import Request, Response, SandboxHttpServer

MAX_PAGE = 100
MAX_PAGE_WITH_HISTORY = 50
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_ASSOCIATION_INPUTS = 1000
SEARCH_RESULT_CAP = 10_000
# HubSpot's v4 association type ids (HUBSPOT_DEFINED) for the pairs we serve.
_ASSOCIATION_TYPE_IDS = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
}
_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
_OPERATORS = frozenset(
    {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
     "NOT_HAS_PROPERTY"}
)  # fmt: skip


def portal_token(access_token: str, tenant_id: str) -> str:
    """The default bearer token of a tenant's portal on a server built with `access_token`."""
    return f"{access_token}.{tenant_id}"


def format_value(value: Any) -> str | None:
    """A property value as HubSpot sends it: always a string (or null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


class _BadRequest(Exception):
    pass


class CrmSandboxServer(SandboxHttpServer):
    """The CRM API of every tenant in `data`, as of `now()`, with the base server's faults.

    ``extra_properties`` (object type -> {name: value}) are added to every object of that
    type whether asked for or not, as when the API starts returning a new default property;
    connectors must tolerate them. ``retry_after_seconds`` is what throttled answers ask for.
    """

    def __init__(
        self,
        data: CrmData,
        *,
        port: int = 0,
        access_token: str = "sandbox-crm-token",
        tenant_tokens: Mapping[str, str] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry_after_seconds: int = 1,
        search_result_cap: int = SEARCH_RESULT_CAP,
        extra_properties: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__("crm", self._handle, throttled=self._throttled, port=port)
        self._data = data
        self._access_token = access_token
        self._tenant_tokens = dict(tenant_tokens) if tenant_tokens is not None else None
        self.now = now
        self.retry_after_seconds = retry_after_seconds
        self.search_result_cap = search_result_cap
        self.extra_properties = {k: dict(v) for k, v in (extra_properties or {}).items()}
        self._log_lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, path) of calls that reached us

    def token_for(self, tenant_id: str) -> str:
        """The bearer token that opens `tenant_id`'s portal on this server."""
        if self._tenant_tokens is not None:
            for token, tenant in self._tenant_tokens.items():
                if tenant == tenant_id:
                    return token
            raise KeyError(f"no token configured for tenant {tenant_id!r}")
        return portal_token(self._access_token, tenant_id)

    # -- answers ---------------------------------------------------------------------------
    def _throttled(self, request: Request) -> Response:
        return Response(
            429,
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "TEN_SECONDLY_ROLLING",
                "category": "RATE_LIMITS",
            },
            headers={
                "Retry-After": str(self.retry_after_seconds),
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Remaining": "0",
            },
        )

    @staticmethod
    def _error(status: int, category: str, message: str) -> Response:
        return Response(
            status,
            {
                "status": "error",
                "message": message,
                "correlationId": str(uuid.uuid4()),
                "category": category,
            },
        )

    def _portal(self, request: Request) -> CrmPortal | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        if self._tenant_tokens is not None:
            tenant_id = self._tenant_tokens.get(token)
        else:
            prefix = f"{self._access_token}."
            tenant_id = token[len(prefix) :] if token.startswith(prefix) else None
        if tenant_id is None:
            return None
        return next((p for p in self._data.portals() if p.tenant_id == tenant_id), None)

    def _handle(self, request: Request) -> Response:
        with self._log_lock:
            self.requests.append((request.method, request.path))
        portal = self._portal(request)
        if portal is None:
            return self._error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and private app access tokens.",
            )
        parts = [p for p in request.path.split("/") if p]
        now = self.now()
        try:
            return self._route(request, parts, portal, now)
        except _BadRequest as error:
            return self._error(400, "VALIDATION_ERROR", str(error))

    def _route(
        self, request: Request, parts: list[str], portal: CrmPortal, now: datetime
    ) -> Response:
        method = request.method
        if parts == ["account-info", "v3", "details"] and method == "GET":
            return Response(
                200,
                {
                    "portalId": portal.portal_id,
                    "accountType": "STANDARD",
                    "timeZone": portal.time_zone,
                    "companyCurrency": portal.currency,
                    "additionalCurrencies": [],
                    "utcOffset": "",
                    "uiDomain": "app.hubspot.com",
                    "dataHostingLocation": "na1",
                },
            )
        if parts[:2] == ["crm", "v3"] and len(parts) >= 4:
            kind, object_type = parts[2], parts[3]
            if object_type not in OBJECT_TYPES:
                return self._error(404, "OBJECT_NOT_FOUND", f"Unknown object type {object_type}")
            if kind == "pipelines" and len(parts) == 4 and method == "GET":
                if object_type != "deals":
                    return Response(200, {"results": []})
                return Response(200, {"results": [_pipeline()]})
            if kind == "properties" and len(parts) == 4 and method == "GET":
                return Response(200, {"results": _property_definitions(object_type)})
            if kind == "objects":
                if len(parts) == 4 and method == "GET":
                    return self._list(request, portal, object_type, now)
                if len(parts) == 5 and parts[4] == "search" and method == "POST":
                    return self._search(request, portal, object_type, now)
                if len(parts) == 5 and method == "GET":
                    return self._read(request, portal, object_type, parts[4], now)
        if (
            parts[:3] == ["crm", "v4", "associations"]
            and len(parts) == 7
            and parts[5:] == ["batch", "read"]
            and method == "POST"
        ):
            return self._associations(request, portal, parts[3], parts[4], now)
        return self._error(404, "NOT_FOUND", f"No route for {method} {request.path}")

    # -- objects ---------------------------------------------------------------------------
    def _list(
        self, request: Request, portal: CrmPortal, object_type: str, now: datetime
    ) -> Response:
        properties = _names(request, "properties")
        with_history = _names(request, "propertiesWithHistory")
        associations = _names(request, "associations")
        limit = _int_param(request.param("limit", "10"), "limit")
        ceiling = MAX_PAGE_WITH_HISTORY if with_history else MAX_PAGE
        if not 1 <= limit <= ceiling:
            raise _BadRequest(f"limit must be between 1 and {ceiling}, got {limit}")
        after = _int_param(request.param("after", "0"), "after")
        records = self._data.records(portal.tenant_id, object_type)
        start = bisect_left(records, after, key=lambda r: r.object_id)
        page: list[CrmRecord] = []
        next_id = None
        for record in records[start:]:
            if not record.exists_at(now):
                continue
            if len(page) == limit:
                next_id = record.object_id
                break
            page.append(record)
        links = self._association_index(portal, object_type, associations, now, page)
        body: dict[str, Any] = {
            "results": [
                self._object(r, object_type, now, properties, with_history, associations, links)
                for r in page
            ]
        }
        if next_id is not None:
            query = {k: ",".join(v) for k, v in request.query.items() if k != "after"}
            query["after"] = str(next_id)
            host = request.headers.get("host", "127.0.0.1")
            body["paging"] = {
                "next": {
                    "after": str(next_id),
                    "link": f"http://{host}{request.path}?{urlencode(query)}",
                }
            }
        return Response(200, body)

    def _read(
        self, request: Request, portal: CrmPortal, object_type: str, object_id: str, now: datetime
    ) -> Response:
        wanted = int(object_id) if object_id.isdigit() else None
        record = next(
            (
                r
                for r in self._data.records(portal.tenant_id, object_type)
                if r.object_id == wanted and r.exists_at(now)
            ),
            None,
        )
        if record is None:
            return self._error(404, "OBJECT_NOT_FOUND", f"resource not found: {object_id}")
        associations = _names(request, "associations")
        links = self._association_index(portal, object_type, associations, now, [record])
        return Response(
            200,
            self._object(
                record,
                object_type,
                now,
                _names(request, "properties"),
                _names(request, "propertiesWithHistory"),
                associations,
                links,
            ),
        )

    def _search(
        self, request: Request, portal: CrmPortal, object_type: str, now: datetime
    ) -> Response:
        try:
            body = request.json() or {}
        except ValueError as error:
            raise _BadRequest(f"request body is not JSON: {error}") from error
        if not isinstance(body, dict):
            raise _BadRequest("request body must be a JSON object")
        if body.get("query"):
            raise _BadRequest("free-text `query` is not supported by the sandbox")
        limit = _int_param(str(body.get("limit", 10)), "limit")
        if not 1 <= limit <= MAX_PAGE:
            raise _BadRequest(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        offset = _int_param(str(body.get("after", "0") or "0"), "after")
        if offset >= self.search_result_cap:
            raise _BadRequest(
                f"Search results are limited to {self.search_result_cap:,}; "
                f"narrow the filters instead of paging past {offset}"
            )
        types = PROPERTIES[object_type]
        groups = _filter_groups(body.get("filterGroups") or [], types)
        sort_name, descending = _sort(body.get("sorts") or [], types)
        properties = body.get("properties") or []
        if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
            raise _BadRequest("properties must be a list of names")

        matches: list[tuple[CrmRecord, dict[str, Any]]] = []
        for record in self._data.records(portal.tenant_id, object_type):
            if not record.exists_at(now):
                continue
            values = record.view(now)
            if not groups or any(
                all(_matches(values.get(f[0]), f) for f in group) for group in groups
            ):
                matches.append((record, values))
        if sort_name is not None:
            present = [m for m in matches if m[1].get(sort_name) is not None]
            absent = [m for m in matches if m[1].get(sort_name) is None]
            present.sort(key=lambda m: (m[1][sort_name], m[0].object_id), reverse=descending)
            matches = present + absent
        end = min(offset + limit, len(matches))
        page = matches[offset:end]
        result: dict[str, Any] = {
            "total": len(matches),
            "results": [
                self._object(r, object_type, now, properties, [], [], {}, values=v) for r, v in page
            ],
        }
        if end < len(matches):
            result["paging"] = {"next": {"after": str(end)}}
        return Response(200, result)

    def _object(
        self,
        record: CrmRecord,
        object_type: str,
        now: datetime,
        properties: Sequence[str],
        with_history: Sequence[str],
        associations: Sequence[str],
        links: Mapping[str, Mapping[int, list[int]]],
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        values = values if values is not None else record.view(now)
        known = PROPERTIES[object_type]
        names = [*DEFAULT_PROPERTIES[object_type]] if not properties else list(properties)
        # HubSpot always includes the id and the two timestamps, asked for or not.
        names += ["hs_object_id", "createdate"]
        names.append("lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate")
        shown = {name: format_value(values.get(name)) for name in names if name in known}
        shown.update(self.extra_properties.get(object_type, {}))
        item: dict[str, Any] = {
            "id": str(record.object_id),
            "properties": shown,
            "createdAt": format_value(record.created_at),
            "updatedAt": format_value(values["lastmodifieddate"]),
            "archived": False,
        }
        history = {
            name: [
                {
                    "value": format_value(value),
                    "timestamp": format_value(at),
                    "sourceType": "CRM_UI",
                    "sourceId": None,
                }
                for at, value in record.history(name, now)
            ]
            for name in with_history
            if name in known
        }
        if history:
            item["propertiesWithHistory"] = history
        found = {
            to: {
                "results": [
                    {"id": str(i), "type": f"{_SINGULAR[object_type]}_to_{_SINGULAR[to]}"}
                    for i in links[to].get(record.object_id, [])
                ]
            }
            for to in associations
            if to in links and links[to].get(record.object_id)
        }
        if found:
            item["associations"] = found
        return item

    # -- associations ------------------------------------------------------------------------
    def _association_index(
        self,
        portal: CrmPortal,
        from_type: str,
        to_types: Sequence[str],
        now: datetime,
        sources: Sequence[CrmRecord],
    ) -> dict[str, dict[int, list[int]]]:
        """{to type: {from id: [to ids that exist at now]}} for the `sources` records."""
        index: dict[str, dict[int, list[int]]] = {}
        wanted = {r.object_id for r in sources}
        for to_type in to_types:
            if to_type not in OBJECT_TYPES or to_type == from_type:
                continue
            targets = {
                r.object_id: r
                for r in self._data.records(portal.tenant_id, to_type)
                if r.exists_at(now)
            }
            pairs: dict[int, set[int]] = defaultdict(set)
            for record in sources:
                for to_id in record.associations.get(to_type, ()):
                    pairs[record.object_id].add(to_id)
            for target in targets.values():  # the reverse direction, where only it is kept
                for from_id in target.associations.get(from_type, ()):
                    if from_id in wanted:
                        pairs[from_id].add(target.object_id)
            index[to_type] = {
                from_id: sorted(i for i in ids if i in targets) for from_id, ids in pairs.items()
            }
        return index

    def _associations(
        self, request: Request, portal: CrmPortal, from_type: str, to_type: str, now: datetime
    ) -> Response:
        if (from_type, to_type) not in _ASSOCIATION_TYPE_IDS:
            return self._error(
                404, "OBJECT_NOT_FOUND", f"No association between {from_type} and {to_type}"
            )
        try:
            body = request.json() or {}
        except ValueError as error:
            raise _BadRequest(f"request body is not JSON: {error}") from error
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(
            isinstance(i, dict) and str(i.get("id", "")).isdigit() for i in inputs
        ):
            raise _BadRequest("inputs must be a list of {id} objects with numeric ids")
        if len(inputs) > MAX_ASSOCIATION_INPUTS:
            raise _BadRequest(f"at most {MAX_ASSOCIATION_INPUTS} inputs per batch")
        asked = {int(i["id"]) for i in inputs}
        sources = [
            r
            for r in self._data.records(portal.tenant_id, from_type)
            if r.object_id in asked and r.exists_at(now)
        ]
        existing = {r.object_id for r in sources}
        links = self._association_index(portal, from_type, [to_type], now, sources)[to_type]
        kinds = [
            {"category": "HUBSPOT_DEFINED", "typeId": _ASSOCIATION_TYPE_IDS[(from_type, to_type)]}
        ]
        results, errors = [], []
        for wanted in dict.fromkeys(int(i["id"]) for i in inputs):
            if wanted not in existing:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": f"No {from_type} with id {wanted}",
                        "context": {"fromObjectId": [str(wanted)]},
                    }
                )
                continue
            to_ids = links.get(wanted, [])
            if to_ids:
                results.append(
                    {
                        "from": {"id": str(wanted)},
                        "to": [
                            {
                                "toObjectId": to_id,
                                "associationTypes": [{**k, "label": None} for k in kinds],
                            }
                            for to_id in to_ids
                        ],
                    }
                )
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": format_value(now),
            "completedAt": format_value(now),
        }
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
        return Response(207 if errors else 200, answer)


# -- request parsing ------------------------------------------------------------------------


def _names(request: Request, name: str) -> list[str]:
    return [n for value in request.query.get(name, []) for n in value.split(",") if n]


def _int_param(value: str | None, name: str) -> int:
    if value is None or not value.strip().isdigit():
        raise _BadRequest(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _filter_groups(raw: Any, types: Mapping[str, str]) -> list[list[tuple[str, str, Any, Any]]]:
    """Validated filters as (property, operator, value, high value) tuples, values typed."""
    if not isinstance(raw, list) or len(raw) > MAX_FILTER_GROUPS:
        raise _BadRequest(f"filterGroups must be a list of at most {MAX_FILTER_GROUPS} groups")
    groups = []
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
            raise _BadRequest(f"each filter group holds at most {MAX_FILTERS_PER_GROUP} filters")
        parsed = []
        for f in filters:
            if not isinstance(f, dict):
                raise _BadRequest("a filter must be an object")
            name, operator = f.get("propertyName"), f.get("operator")
            if name not in types:
                raise _BadRequest(f"Invalid property {name!r} in filter")
            if operator not in _OPERATORS:
                raise _BadRequest(f"Unsupported operator {operator!r}")
            kind = types[name]
            if operator in ("IN", "NOT_IN"):
                values = f.get("values")
                if not isinstance(values, list):
                    raise _BadRequest(f"{operator} needs a `values` list")
                parsed.append((name, operator, [_typed(v, kind) for v in values], None))
            elif operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
                parsed.append((name, operator, None, None))
            else:
                if "value" not in f:
                    raise _BadRequest(f"{operator} filter on {name} needs a value")
                high = _typed(f.get("highValue"), kind) if operator == "BETWEEN" else None
                if operator == "BETWEEN" and high is None:
                    raise _BadRequest("BETWEEN needs a highValue")
                parsed.append((name, operator, _typed(f["value"], kind), high))
        groups.append(parsed)
    return groups


def _typed(value: Any, kind: str) -> Any:
    """A filter value in the property's type, so comparisons are by time or number."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        if kind == DATETIME:
            if text.lstrip("-").isdigit():
                return datetime.fromtimestamp(int(text) / 1000, UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if kind == NUMBER:
            return Decimal(text)
        if kind == BOOL:
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except (ValueError, InvalidOperation) as error:
        raise _BadRequest(f"{value!r} is not a valid {kind} value") from error
    return text.lower()


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _matches(raw: Any, f: tuple[str, str, Any, Any]) -> bool:
    _name, operator, value, high = f
    if operator == "HAS_PROPERTY":
        return raw is not None
    if operator == "NOT_HAS_PROPERTY":
        return raw is None
    if raw is None:
        return False
    actual = _comparable(raw)
    if operator == "EQ":
        return actual == value
    if operator == "NEQ":
        return actual != value
    if operator == "IN":
        return actual in value
    if operator == "NOT_IN":
        return actual not in value
    if operator == "LT":
        return actual < value
    if operator == "LTE":
        return actual <= value
    if operator == "GT":
        return actual > value
    if operator == "GTE":
        return actual >= value
    return value <= actual <= high  # BETWEEN


def _sort(raw: Any, types: Mapping[str, str]) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    if not isinstance(raw, list) or len(raw) > 1 or not isinstance(raw[0], dict):
        raise _BadRequest("sorts takes one {propertyName, direction} object")
    name, direction = raw[0].get("propertyName"), raw[0].get("direction", "ASCENDING")
    if name not in types:
        raise _BadRequest(f"Invalid sort property {name!r}")
    if direction not in ("ASCENDING", "DESCENDING"):
        raise _BadRequest(f"Invalid sort direction {direction!r}")
    return name, direction == "DESCENDING"


def _pipeline() -> dict[str, Any]:
    return {
        "id": PIPELINE_ID,
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "archived": False,
        "stages": [
            {
                "id": stage.stage_id,
                "label": stage.label,
                "displayOrder": order,
                "archived": False,
                "metadata": {
                    "probability": str(stage.probability),
                    "isClosed": "true" if stage.is_closed else "false",
                },
            }
            for order, stage in enumerate(DEAL_STAGES)
        ],
    }


def _property_definitions(object_type: str) -> list[dict[str, Any]]:
    field_types = {"string": "text", "number": "number", "datetime": "date"}
    field_types["bool"] = "booleancheckbox"
    return [
        {
            "name": name,
            "label": name.replace("hs_", "").replace("_", " ").capitalize(),
            "type": kind,
            "fieldType": field_types.get(kind, "select"),
            "groupName": f"{_SINGULAR[object_type]}information",
            "hubspotDefined": not name.startswith("bizo_"),
        }
        for name, kind in PROPERTIES[object_type].items()
    ]
