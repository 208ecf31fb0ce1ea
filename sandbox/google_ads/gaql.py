"""The slice of GAQL (Google Ads Query Language) that our sandbox serves.

The parser is strict on purpose: a query our connector can only get past the sandbox must
also get past the real API, so anything outside the supported subset fails with the error
code the real API would use (names of ``QueryErrorEnum.QueryError`` values in API v26).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

FieldKind = Literal["attribute", "metric", "segment"]
ValueType = Literal["int64", "string", "enum", "double", "date", "repeated_string"]

# The field catalogue: GAQL name -> (kind, value type).
FIELDS: dict[str, tuple[FieldKind, ValueType]] = {
    "customer.id": ("attribute", "int64"),
    "customer.descriptive_name": ("attribute", "string"),
    "customer.currency_code": ("attribute", "string"),
    "customer.time_zone": ("attribute", "string"),
    "campaign.id": ("attribute", "int64"),
    "campaign.name": ("attribute", "string"),
    "campaign.status": ("attribute", "enum"),
    "campaign.resource_name": ("attribute", "string"),
    "campaign.campaign_budget": ("attribute", "string"),
    "campaign_budget.amount_micros": ("attribute", "int64"),
    "ad_group.id": ("attribute", "int64"),
    "ad_group.name": ("attribute", "string"),
    "ad_group.campaign": ("attribute", "string"),
    "ad_group_ad.ad.id": ("attribute", "int64"),
    "ad_group_ad.ad.name": ("attribute", "string"),
    "ad_group_ad.ad.final_urls": ("attribute", "repeated_string"),
    "ad_group_ad.ad.expanded_text_ad.headline_part1": ("attribute", "string"),
    "ad_group_ad.ad.expanded_text_ad.description": ("attribute", "string"),
    "ad_group_ad.status": ("attribute", "enum"),
    "click_view.gclid": ("attribute", "string"),
    "click_view.ad_group_ad": ("attribute", "string"),
    "metrics.cost_micros": ("metric", "int64"),
    "metrics.impressions": ("metric", "int64"),
    "metrics.clicks": ("metric", "int64"),
    "metrics.conversions": ("metric", "double"),
    "metrics.conversions_value": ("metric", "double"),
    "segments.date": ("segment", "date"),
}

# Values the real API accepts for the enum fields above (CampaignStatus, AdGroupAdStatus).
ENUM_VALUES: dict[str, frozenset[str]] = {
    "campaign.status": frozenset({"UNSPECIFIED", "UNKNOWN", "ENABLED", "PAUSED", "REMOVED"}),
    "ad_group_ad.status": frozenset({"UNSPECIFIED", "UNKNOWN", "ENABLED", "PAUSED", "REMOVED"}),
}

# FROM resource -> the resources whose fields it may select (itself and attributed ones).
SELECTABLE: dict[str, frozenset[str]] = {
    "campaign": frozenset({"campaign", "customer", "campaign_budget"}),
    "ad_group": frozenset({"ad_group", "campaign", "customer"}),
    "ad_group_ad": frozenset({"ad_group_ad", "ad_group", "campaign", "customer"}),
    "click_view": frozenset({"click_view", "ad_group", "campaign", "customer"}),
}

# The fields that identify one row of each FROM resource before segmentation.
RESOURCE_KEY: dict[str, tuple[str, ...]] = {
    "campaign": ("campaign.id",),
    "ad_group": ("ad_group.id",),
    "ad_group_ad": ("ad_group.id", "ad_group_ad.ad.id"),
    "click_view": ("click_view.gclid",),
}

_KEYWORDS = frozenset(
    {"SELECT", "FROM", "WHERE", "AND", "ORDER", "BY", "ASC", "DESC", "LIMIT", "PARAMETERS"}
    | {"IN", "NOT", "BETWEEN", "DURING", "LIKE", "IS", "NULL", "CONTAINS", "REGEXP_MATCH"}
)
_DURING = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "LAST_7_DAYS",
        "LAST_14_DAYS",
        "LAST_30_DAYS",
        "THIS_MONTH",
        "LAST_MONTH",
    }
)
_COMPARISONS = ("=", "!=", ">", ">=", "<", "<=")
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|>=|<=|=|>|<)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


class GaqlError(ValueError):
    """A query the real API would reject; ``code`` is a ``QueryError`` enum value name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


Operator = Literal["=", "!=", ">", ">=", "<", "<=", "IN", "NOT IN", "BETWEEN", "DURING"]


@dataclass(frozen=True)
class Condition:
    """One ``field op value(s)`` term of the WHERE clause, with values already typed."""

    field: str
    op: Operator
    values: tuple[Any, ...]

    def matches(self, value: Any, today: date | None = None) -> bool:
        """Whether a row's value satisfies this condition (None never equals anything)."""
        if self.op == "DURING":
            start, end = during_range(self.values[0], today or date.today())
            return value is not None and start <= value <= end
        if self.op == "!=":
            return value != self.values[0]
        if self.op == "NOT IN":
            return value not in self.values
        if value is None:
            return False
        if self.op == "=":
            return value == self.values[0]
        if self.op == "IN":
            return value in self.values
        if self.op == "BETWEEN":
            return self.values[0] <= value <= self.values[1]
        bound = self.values[0]
        return {
            ">": value > bound,
            ">=": value >= bound,
            "<": value < bound,
            "<=": value <= bound,
        }[self.op]


@dataclass(frozen=True)
class GaqlQuery:
    """A parsed, validated query; ``order_by`` holds ``(field, descending)`` pairs."""

    select: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None

    @property
    def selects_metrics(self) -> bool:
        return any(FIELDS[f][0] == "metric" for f in self.select)

    @property
    def has_date_filter(self) -> bool:
        return any(c.field == "segments.date" for c in self.conditions)

    def date_range(self, today: date | None = None) -> tuple[date | None, date | None]:
        """The tightest ``[start, end]`` the date conditions imply; None where open.

        The data layer fetches this window; the exact conditions are still applied per row.
        """
        start: date | None = None
        end: date | None = None

        def narrow(lo: date | None, hi: date | None) -> None:
            nonlocal start, end
            if lo is not None and (start is None or lo > start):
                start = lo
            if hi is not None and (end is None or hi < end):
                end = hi

        for cond in self.conditions:
            if cond.field != "segments.date":
                continue
            if cond.op == "DURING":
                narrow(*during_range(cond.values[0], today or date.today()))
            elif cond.op == "BETWEEN":
                narrow(cond.values[0], cond.values[1])
            elif cond.op in ("=", "IN"):
                narrow(min(cond.values), max(cond.values))
            elif cond.op in (">", ">="):
                narrow(cond.values[0] + timedelta(days=cond.op == ">"), None)
            elif cond.op in ("<", "<="):
                narrow(None, cond.values[0] - timedelta(days=cond.op == "<"))
        return start, end


def during_range(constant: str, today: date) -> tuple[date, date]:
    """The dates a ``DURING`` constant covers; like the API, LAST_N_DAYS excludes today."""
    if constant == "TODAY":
        return today, today
    if constant == "YESTERDAY":
        return today - timedelta(days=1), today - timedelta(days=1)
    if constant.startswith("LAST_") and constant.endswith("_DAYS"):
        days = int(constant.removeprefix("LAST_").removesuffix("_DAYS"))
        return today - timedelta(days=days), today - timedelta(days=1)
    first_of_month = today.replace(day=1)
    if constant == "THIS_MONTH":
        return first_of_month, today
    if constant == "LAST_MONTH":
        last_month_end = first_of_month - timedelta(days=1)
        return last_month_end.replace(day=1), last_month_end
    raise GaqlError("INVALID_VALUE_WITH_DURING_OPERATOR", f"Unknown DURING value {constant}.")


@dataclass(frozen=True)
class _Token:
    kind: str  # string | number | name | op | punct | keyword
    text: str
    pos: int


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None:
            char = query[pos]
            if char in "'\"":
                raise GaqlError("STRING_NOT_TERMINATED", f"String starting at {pos} never ends.")
            raise GaqlError("BAD_SYMBOL", f"Unexpected symbol {char!r} at position {pos}.")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "string" and "\n" in text:
            raise GaqlError("PROHIBITED_NEWLINE_IN_STRING", f"Newline in string at {pos}.")
        if kind == "name" and text.upper() in _KEYWORDS:
            kind, text = "keyword", text.upper()
        if kind != "ws":
            tokens.append(_Token(kind, text, pos))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokenize(query)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise GaqlError("UNEXPECTED_END_OF_QUERY", f"Query ended; expected {what}.")
        self.i += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "keyword" and token.text in words

    def take_punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.i += 1
            return True
        return False

    def expect_keyword(self, word: str, code: str) -> None:
        token = self.next(word)
        if token.kind != "keyword" or token.text != word:
            raise GaqlError(code, f"Expected {word} at position {token.pos}, got {token.text!r}.")

    def expect_punct(self, char: str, code: str) -> None:
        token = self.next(repr(char))
        if token.text != char:
            raise GaqlError(code, f"Expected {char!r} at position {token.pos}.")

    def field_name(self) -> str:
        token = self.next("a field name")
        if token.kind != "name":
            raise GaqlError("BAD_FIELD_NAME", f"Expected a field at {token.pos}: {token.text!r}.")
        if token.text not in FIELDS:
            raise GaqlError(
                "UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{token.text}'."
            )
        return token.text

    def parse(self) -> GaqlQuery:
        if not self.tokens:
            raise GaqlError("EXPECTED_SELECT", "The query is empty.")
        self.expect_keyword("SELECT", "EXPECTED_SELECT")
        select = [self.field_name()]
        while self.take_punct(","):
            select.append(self.field_name())
        self.expect_keyword("FROM", "EXPECTED_FROM")
        resource_token = self.next("a resource name")
        if resource_token.kind != "name" or resource_token.text not in SELECTABLE:
            raise GaqlError(
                "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
                f"Unsupported resource in FROM clause: {resource_token.text!r}.",
            )
        conditions: list[Condition] = []
        if self.at_keyword("WHERE"):
            self.i += 1
            conditions.append(self.condition())
            while self.at_keyword("AND"):
                self.i += 1
                conditions.append(self.condition())
        order_by: list[tuple[str, bool]] = []
        if self.at_keyword("ORDER"):
            self.i += 1
            self.expect_keyword("BY", "EXPECTED_BY")
            order_by.append(self.ordering())
            while self.take_punct(","):
                order_by.append(self.ordering())
        limit: int | None = None
        if self.at_keyword("LIMIT"):
            self.i += 1
            token = self.next("a LIMIT value")
            if token.kind != "number" or not token.text.lstrip("-").isdigit():
                raise GaqlError("BAD_LIMIT_VALUE", f"LIMIT must be an integer, got {token.text!r}.")
            limit = int(token.text)
            if limit <= 0:
                raise GaqlError("LIMIT_VALUE_TOO_LOW", "LIMIT must be at least 1.")
        if self.at_keyword("PARAMETERS"):
            self.i += 1
            self.parameters()
        token = self.peek()
        if token is not None:
            # GAQL has no OR: after the WHERE clause only AND may continue it.
            after_where = conditions and not order_by and limit is None
            code = "EXPECTED_AND" if after_where else "UNEXPECTED_INPUT"
            raise GaqlError(code, f"Unexpected input {token.text!r} at position {token.pos}.")
        return _validate(
            GaqlQuery(tuple(select), resource_token.text, tuple(conditions), tuple(order_by), limit)
        )

    def ordering(self) -> tuple[str, bool]:
        name = self.field_name()
        if self.at_keyword("ASC", "DESC"):
            return name, self.next("ASC or DESC").text == "DESC"
        return name, False

    def parameters(self) -> None:
        while True:
            name = self.next("a parameter name")
            if name.text != "include_drafts" and name.text != "omit_unselected_resource_names":
                raise GaqlError("BAD_PARAMETER_NAME", f"Unknown parameter {name.text!r}.")
            self.expect_punct("=", "BAD_PARAMETER_VALUE")
            value = self.next("a parameter value")
            if value.text.lower() not in ("true", "false"):
                raise GaqlError("BAD_PARAMETER_VALUE", f"Bad value {value.text!r}.")
            if not self.take_punct(","):
                return

    def condition(self) -> Condition:
        field = self.field_name()
        _, vtype = FIELDS[field]
        token = self.next("an operator")
        if vtype == "repeated_string":
            raise GaqlError("PROHIBITED_FIELD_IN_WHERE_CLAUSE", f"Cannot filter on {field}.")
        if token.kind == "op":
            return Condition(field, cast(Operator, token.text), (self.literal(field),))
        if token.kind != "keyword":
            raise GaqlError("BAD_OPERATOR", f"Expected an operator at {token.pos}: {token.text!r}.")
        if token.text == "NOT":
            self.expect_keyword("IN", "BAD_OPERATOR")
            return Condition(field, "NOT IN", self.value_list(field))
        if token.text == "IN":
            return Condition(field, "IN", self.value_list(field))
        if token.text == "BETWEEN":
            if vtype != "date":
                raise GaqlError("OPERATOR_FIELD_MISMATCH", f"BETWEEN is not allowed on {field}.")
            low = self.literal(field, code="EXPECTED_VALUE_WITH_BETWEEN_OPERATOR")
            self.expect_keyword("AND", "EXPECTED_VALUE_WITH_BETWEEN_OPERATOR")
            high = self.literal(field, code="EXPECTED_VALUE_WITH_BETWEEN_OPERATOR")
            if low > high:
                raise GaqlError(
                    "INVALID_VALUE_WITH_BETWEEN_OPERATOR", f"BETWEEN '{low}' AND '{high}' is empty."
                )
            return Condition(field, "BETWEEN", (low, high))
        if token.text == "DURING":
            if vtype != "date":
                raise GaqlError("OPERATOR_FIELD_MISMATCH", f"DURING is not allowed on {field}.")
            value = self.next("a DURING value")
            if value.kind != "name" or value.text.upper() not in _DURING:
                raise GaqlError(
                    "INVALID_VALUE_WITH_DURING_OPERATOR",
                    f"Unsupported DURING value {value.text!r}.",
                )
            return Condition(field, "DURING", (value.text.upper(),))
        raise GaqlError("BAD_OPERATOR", f"Unsupported operator {token.text} at {token.pos}.")

    def value_list(self, field: str) -> tuple[Any, ...]:
        token = self.next("a value list")
        if token.text != "(":
            raise GaqlError("EXPECTED_LIST", f"Expected '(' at position {token.pos}.")
        token = self.peek()
        if token is not None and token.text == ")":
            raise GaqlError("PROHIBITED_EMPTY_LIST_IN_CONDITION", f"Empty list for {field}.")
        values = [self.literal(field)]
        while True:
            token = self.next("',' or ')'")
            if token.text == ")":
                return tuple(values)
            if token.text != ",":
                raise GaqlError("UNEXPECTED_INPUT", f"Unexpected {token.text!r} in a list.")
            values.append(self.literal(field))

    def literal(self, field: str, code: str = "BAD_VALUE") -> Any:
        token = self.next(f"a value for {field}")
        if token.kind not in ("string", "number", "name"):
            raise GaqlError(code, f"Expected a value for {field} at {token.pos}: {token.text!r}.")
        raw = re.sub(r"\\(.)", r"\1", token.text[1:-1]) if token.kind == "string" else token.text
        _, vtype = FIELDS[field]
        if vtype == "int64":
            if not re.fullmatch(r"-?\d+", raw):
                raise GaqlError("BAD_NUMBER", f"{field} needs an integer, got {token.text}.")
            return int(raw)
        if vtype == "double":
            if not re.fullmatch(r"-?\d+(?:\.\d+)?", raw):
                raise GaqlError("BAD_NUMBER", f"{field} needs a number, got {token.text}.")
            return Decimal(raw)
        if vtype == "date":
            if token.kind != "string":
                raise GaqlError("INVALID_DATE_FORMAT", f"Dates must be quoted: {token.text}.")
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                with contextlib.suppress(ValueError):
                    return date.fromisoformat(raw)
            raise GaqlError("INVALID_DATE_FORMAT", f"Dates must be 'YYYY-MM-DD', got {raw!r}.")
        if vtype == "enum":
            if raw not in ENUM_VALUES[field]:
                raise GaqlError("BAD_ENUM_CONSTANT", f"{raw!r} is not a value of {field}.")
            return raw
        if token.kind != "string":
            raise GaqlError("INVALID_STRING_VALUE", f"{field} needs a quoted string.")
        return raw


def _resource_of(field: str) -> str:
    return field.split(".", 1)[0]


def _validate(query: GaqlQuery) -> GaqlQuery:
    """The semantic checks the API does after parsing."""
    allowed = SELECTABLE[query.resource]
    clauses = (
        (query.select, "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"),
        ([c.field for c in query.conditions], "PROHIBITED_RESOURCE_TYPE_IN_WHERE_CLAUSE"),
        ([f for f, _ in query.order_by], "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE"),
    )
    for fields, code in clauses:
        for field in fields:
            resource = _resource_of(field)
            if resource not in ("metrics", "segments") and resource not in allowed:
                raise GaqlError(
                    code,
                    f"Cannot select or filter on the following resource: '{resource}', "
                    f"which is not related to the resource in the FROM clause "
                    f"('{query.resource}').",
                )
    for field, _ in query.order_by:
        if FIELDS[field][1] == "repeated_string":
            raise GaqlError("PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE", f"Cannot order by {field}.")
    if "segments.date" in query.select:
        start, end = query.date_range(today=date(2000, 1, 1))
        if start is None or end is None:
            raise GaqlError(
                "EXPECTED_FILTERS_ON_DATE_RANGE",
                "Filters on a finite date range are required when 'segments.date' is selected "
                "(e.g. WHERE segments.date BETWEEN 'YYYY-MM-DD' AND 'YYYY-MM-DD').",
            )
    return query


def parse(query: str) -> GaqlQuery:
    """Parse and validate a GAQL query, or raise ``GaqlError`` as the real API would."""
    return _Parser(query).parse()


def execute(
    query: GaqlQuery, rows: Iterable[Mapping[str, Any]], today: date | None = None
) -> list[dict[str, Any]]:
    """Run a parsed query over ad-level rows: filter, aggregate to the FROM level, order.

    Attribute and date conditions filter the ad rows first (attributes of the FROM resource
    and above are constant within a group, so that equals filtering after); metric
    conditions apply to the aggregated rows, as in the API. Rows keep every field known for
    the group (callers need ids for resource names even when unselected). ``LIMIT`` is *not*
    applied, because Search reports the total before the limit; callers slice.
    """
    today = today or date.today()
    pre = [c for c in query.conditions if FIELDS[c.field][0] != "metric"]
    post = [c for c in query.conditions if FIELDS[c.field][0] == "metric"]
    key_fields = RESOURCE_KEY[query.resource] + (
        ("segments.date",) if "segments.date" in query.select else ()
    )
    metrics = [f for f, (kind, _) in FIELDS.items() if kind == "metric"]
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        if not all(c.matches(row.get(c.field), today) for c in pre):
            continue
        key = tuple(row.get(f) for f in key_fields)
        group = groups.get(key)
        if group is None:
            groups[key] = {k: v for k, v in row.items() if FIELDS.get(k, ("", ""))[0] != "metric"}
            groups[key].update({m: row[m] for m in metrics if m in row})
        else:
            for m in metrics:
                if m in row:
                    group[m] = group.get(m, 0) + row[m]
    result = [
        g for _, g in sorted(groups.items(), key=lambda kv: _sort_key(kv[0])) if _passes(g, post)
    ]
    for field, descending in reversed(query.order_by):
        result.sort(key=lambda r, f=field: _sort_key((r.get(f),)), reverse=descending)
    return result


def _passes(row: Mapping[str, Any], conditions: Sequence[Condition]) -> bool:
    return all(c.matches(row.get(c.field, 0)) for c in conditions)


def _sort_key(values: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    return tuple((v is None, v if v is not None else 0) for v in values)
