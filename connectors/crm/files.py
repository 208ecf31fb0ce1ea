"""Parse landed files - CRM contact exports (CSV, JSON) and web sessions (JSONL) - into
typed rows and `warehouse.loader.Reject`s.

A file is evidence, so one bad record never costs the others: each record is decoded on its
own (strict UTF-8; undecodable bytes reject that record, not the file), parsed, converted
and judged by `connectors.crm.validation`. Every reject carries a reason, the file name, the
line and the raw text (undecodable bytes shown as ``\\xNN``). Fields the parser does not
know are ignored and reported in ``unknown_fields``, so a source that grows a column is
noticed without breaking a load. Only a file whose CSV header is unusable cannot be parsed
at all; it becomes one file-level reject.

CSV records may span lines inside quotes. A record that fails to parse as a multi-line
whole is re-read as "its first line is broken": that line is rejected and parsing resumes
on the next one, so a stray quote cannot swallow the rest of the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from connectors.crm.validation import contact_export_problems, web_session_problems
from warehouse.loader import Reject

T = TypeVar("T")

MAX_RECORD_LINES = 100  # a quoted CSV field longer than this many lines is taken as broken
_BOM = b"\xef\xbb\xbf"
_FILE_DAY = re.compile(r"_(\d{4}-\d{2}-\d{2})\.(csv|json|jsonl)$")


@dataclass(frozen=True)
class ParsedFile(Generic[T]):
    """What a file gave: rows fit to load, rejects with reasons, and field names we ignored."""

    rows: list[T]
    rejects: list[Reject]
    unknown_fields: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class CrmContactExportRow:
    """One contact line of an export file; fields are ``raw.crm_contact_exports`` columns.
    ``date`` is the file's export day; ``row_number`` the record's line (CSV) or position
    (JSON) in the file."""

    date: date
    source_file: str
    row_number: int
    contact_id: int
    email: str
    first_name: str | None
    last_name: str | None
    job_title: str | None
    company: str | None
    company_size: int | None
    industry: str | None
    country: str | None
    notes: str | None
    anonymous_id: str | None
    original_source: str | None
    lifecycle_stage: str | None
    created_at: datetime


@dataclass(frozen=True)
class WebSessionRow:
    """One web session; fields are ``raw.web_sessions`` columns. ``date`` is the session's
    day in the tenant's time zone, which must be the file's day."""

    date: date
    session_id: str
    anonymous_id: str
    started_at: datetime
    landing_url: str
    referrer: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_content: str | None
    gclid: str | None
    fbclid: str | None
    li_fat_id: str | None
    source_file: str


class _Bad(Exception):
    """A field that cannot be converted; the message is the reject reason."""


# (row field, CSV label, CRM property, kind, required). Headers match any of the three names.
_EXPORT_FIELDS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("contact_id", "Record ID", "hs_object_id", "int", True),
    ("first_name", "First Name", "firstname", "text", False),
    ("last_name", "Last Name", "lastname", "text", False),
    ("email", "Email", "email", "text", True),
    ("job_title", "Job Title", "jobtitle", "text", False),
    ("company", "Company Name", "company", "text", False),
    ("company_size", "Number of Employees", "numemployees", "int", False),
    ("industry", "Industry", "industry", "text", False),
    ("country", "Country/Region", "country", "text", False),
    ("notes", "Notes", "hs_content", "text", False),
    ("anonymous_id", "Bizo Anonymous ID", "bizo_anonymous_id", "text", False),
    ("original_source", "Original Source", "hs_analytics_source", "text", False),
    ("lifecycle_stage", "Lifecycle Stage", "lifecyclestage", "text", False),
    ("created_at", "Create Date", "createdate", "timestamp", True),
)
_EXPORT_ALIASES = {
    alias.strip().lower(): spec[0]
    for spec in _EXPORT_FIELDS
    for alias in (spec[0], spec[1], spec[2])
}
_EXPORT_SPEC = {spec[0]: spec for spec in _EXPORT_FIELDS}

_SESSION_REQUIRED = ("session_id", "anonymous_id", "started_at", "landing_url")
_SESSION_OPTIONAL = (
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "gclid",
    "fbclid",
    "li_fat_id",
)


# -- conversions ------------------------------------------------------------------------------


def _convert(name: str, kind: str, value: Any, default_tz: tzinfo | None) -> Any:
    """A field in its type; blank text is None. Raises `_Bad` with the reason."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "text":
        if not isinstance(value, str):
            raise _Bad(f"{name}: expected text, got {type(value).__name__} {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _Bad(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise _Bad(f"{name}: {value!r} is not an integer")
        return int(text)
    # timestamp
    if not isinstance(value, str):
        raise _Bad(f"{name}: expected an ISO 8601 timestamp, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise _Bad(f"{name}: {value!r} is not an ISO 8601 timestamp") from error
    if moment.tzinfo is None:
        if default_tz is None:
            raise _Bad(f"{name}: {value!r} has no UTC offset")
        moment = moment.replace(tzinfo=default_tz)
    return moment


def _decode(chunk: bytes) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = chunk[error.start : error.start + 1].hex()
        raise _Bad(f"not valid UTF-8 (byte 0x{bad} at offset {error.start})") from error


def _raw(chunk: bytes) -> str:
    return chunk.decode("utf-8", "backslashreplace").rstrip("\r\n")


def _reject(reason: str, source_file: str, line: int, raw: str) -> Reject:
    return Reject(reason, {"source_file": source_file, "line": line, "raw": raw})


def _judge(
    row: T, problems: Callable[[T], list[str]], source_file: str, line: int, raw: str
) -> Reject | None:
    found = problems(row)
    return _reject("; ".join(found), source_file, line, raw) if found else None


# -- CRM contact exports ----------------------------------------------------------------------


def _export_row(
    values: Mapping[str, Any], *, day: date, source_file: str, row_number: int, tz: tzinfo | None
) -> CrmContactExportRow:
    converted: dict[str, Any] = {}
    for name, spec in _EXPORT_SPEC.items():
        converted[name] = _convert(spec[1], spec[3], values.get(name), tz)
        if spec[4] and converted[name] is None:
            raise _Bad(f"missing required field {spec[1]!r}")
    return CrmContactExportRow(
        date=day, source_file=source_file, row_number=row_number, **converted
    )


def _physical_lines(data: bytes) -> list[bytes]:
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    return data.splitlines(keepends=True)


def _csv_fields(chunk: bytes) -> list[str]:
    text = _decode(chunk)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        raise _Bad(f"malformed CSV: {error}") from error
    if len(rows) != 1:
        raise _Bad(f"malformed CSV: one line holds {len(rows)} records")
    return rows[0]


def _csv_record(chunk: bytes, width: int) -> list[str]:
    fields = _csv_fields(chunk)
    if len(fields) != width:
        raise _Bad(f"expected {width} fields, got {len(fields)}")
    return fields


def _csv_records(
    lines: list[bytes], start: int, width: int
) -> Iterator[tuple[int, bytes, list[str] | _Bad]]:
    """(1-based first line, raw bytes, fields or the reason) per record from line `start`;
    every record must have `width` fields."""
    index = start
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        end = index
        quotes = lines[index].count(b'"')
        while quotes % 2 and end + 1 < len(lines) and end - index < MAX_RECORD_LINES:
            end += 1
            quotes += lines[end].count(b'"')
        chunk = b"".join(lines[index : end + 1])
        try:
            fields = _csv_record(chunk, width)
        except _Bad as error:
            problem = error
        else:
            yield index + 1, chunk, fields
            index = end + 1
            continue
        if end > index:
            # A multi-line record that does not parse: its first line is the broken one
            # (a stray quote); judge that line alone and resume right after it.
            try:
                _csv_record(lines[index], width)
                problem = _Bad("malformed CSV: unbalanced quote")
            except _Bad as error:
                problem = error
        yield index + 1, lines[index], problem
        index += 1


def parse_contact_export_csv(
    data: bytes, *, source_file: str, day: date, default_tz: tzinfo | None = None
) -> ParsedFile[CrmContactExportRow]:
    """A CRM's contact export: a header row of labels (``Record ID``, ``Email``...) or
    property names, then one contact per record. ``default_tz`` is applied to timestamps
    without an offset; without it they are rejected."""
    lines = _physical_lines(data)
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        return ParsedFile([], [], frozenset())
    try:
        header = _csv_fields(lines[header_at])
    except _Bad as error:
        return ParsedFile([], [_file_reject(f"unusable header: {error}", source_file, lines)])
    columns = [_EXPORT_ALIASES.get(name.strip().lower()) for name in header]
    unknown = frozenset(n.strip() for n, c in zip(header, columns, strict=True) if c is None)
    missing = [spec[1] for spec in _EXPORT_FIELDS if spec[4] and spec[0] not in columns]
    if missing:
        reason = f"unusable header: missing required columns {missing}"
        return ParsedFile([], [_file_reject(reason, source_file, lines)], unknown)

    rows: list[CrmContactExportRow] = []
    rejects: list[Reject] = []
    for line, chunk, parsed in _csv_records(lines, header_at + 1, len(header)):
        raw = _raw(chunk)
        if isinstance(parsed, _Bad):
            rejects.append(_reject(str(parsed), source_file, line, raw))
            continue
        values = {c: v for c, v in zip(columns, parsed, strict=True) if c is not None}
        try:
            row = _export_row(
                values, day=day, source_file=source_file, row_number=line, tz=default_tz
            )
        except _Bad as error:
            rejects.append(_reject(str(error), source_file, line, raw))
            continue
        bad = _judge(row, contact_export_problems, source_file, line, raw)
        if bad:
            rejects.append(bad)
        else:
            rows.append(row)
    return ParsedFile(rows, rejects, unknown)


def _file_reject(reason: str, source_file: str, lines: list[bytes]) -> Reject:
    head = lines[0] if lines else b""
    return Reject(
        reason,
        {"source_file": source_file, "line": 1, "raw": _raw(head), "lines_in_file": len(lines)},
    )


def parse_contact_export_json(
    data: bytes, *, source_file: str, day: date, default_tz: tzinfo | None = None
) -> ParsedFile[CrmContactExportRow]:
    """A JSON export: an array of contact objects keyed by property names (labels work too).

    A file that is not valid JSON as a whole (a damaged line, stray bytes) is read again
    one record per line - our exports put each record on its own line - so the damage costs
    only the records it touches. ``row_number`` is the record's 1-based position.
    """
    rows: list[CrmContactExportRow] = []
    rejects: list[Reject] = []
    unknown: set[str] = set()

    def take(item: Any, position: int, line: int | None, raw: str) -> None:
        where = line if line is not None else position
        if not isinstance(item, dict):
            rejects.append(_reject("a record must be a JSON object", source_file, where, raw))
            return
        values: dict[str, Any] = {}
        for key, value in item.items():
            name = _EXPORT_ALIASES.get(str(key).strip().lower())
            if name is None:
                unknown.add(str(key))
            else:
                values[name] = value
        try:
            row = _export_row(
                values, day=day, source_file=source_file, row_number=position, tz=default_tz
            )
        except _Bad as error:
            rejects.append(_reject(str(error), source_file, where, raw))
            return
        bad = _judge(row, contact_export_problems, source_file, where, raw)
        if bad:
            rejects.append(bad)
        else:
            rows.append(row)

    try:
        document = json.loads(_decode(data[len(_BOM) :] if data.startswith(_BOM) else data))
    except (_Bad, ValueError):
        document = None
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        document = document["results"]
    if isinstance(document, list):
        for position, item in enumerate(document, start=1):
            take(item, position, None, json.dumps(item, ensure_ascii=False, default=str))
        return ParsedFile(rows, rejects, frozenset(unknown))

    position = 0
    for number, chunk in enumerate(_physical_lines(data), start=1):
        stripped = chunk.strip()
        if stripped in (b"", b"[", b"]", b"{", b"}") or stripped.startswith(b'{"results"'):
            continue
        position += 1
        raw = _raw(chunk)
        try:
            item = json.loads(_decode(stripped.rstrip(b",")))
        except _Bad as error:
            rejects.append(_reject(str(error), source_file, number, raw))
            continue
        except ValueError as error:
            rejects.append(_reject(f"malformed JSON: {error}", source_file, number, raw))
            continue
        take(item, position, number, raw)
    return ParsedFile(rows, rejects, frozenset(unknown))


# -- web sessions ---------------------------------------------------------------------------


def parse_web_sessions_jsonl(
    data: bytes, *, source_file: str, day: date, time_zone: str
) -> ParsedFile[WebSessionRow]:
    """One session object per line. A session must start on ``day`` in ``time_zone`` (the
    file's day), since its row loads into that day's slice; a session id seen earlier in
    the file is rejected as a duplicate."""
    tz = ZoneInfo(time_zone)
    rows: list[WebSessionRow] = []
    rejects: list[Reject] = []
    unknown: set[str] = set()
    first_seen: dict[str, int] = {}
    known = {*_SESSION_REQUIRED, *_SESSION_OPTIONAL}
    for number, chunk in enumerate(_physical_lines(data), start=1):
        if not chunk.strip():
            continue
        raw = _raw(chunk)
        try:
            item = json.loads(_decode(chunk))
            if not isinstance(item, dict):
                raise _Bad("a session must be a JSON object")
            unknown.update(str(k) for k in item if k not in known)
            values = {}
            for name in _SESSION_REQUIRED:
                kind = "timestamp" if name == "started_at" else "text"
                values[name] = _convert(name, kind, item.get(name), None)
                if values[name] is None:
                    raise _Bad(f"missing required field {name!r}")
            for name in _SESSION_OPTIONAL:
                values[name] = _convert(name, "text", item.get(name), None)
        except _Bad as error:
            rejects.append(_reject(str(error), source_file, number, raw))
            continue
        except ValueError as error:
            rejects.append(_reject(f"malformed JSON: {error}", source_file, number, raw))
            continue
        local_day = values["started_at"].astimezone(tz).date()
        if local_day != day:
            reason = f"started_at is on {local_day} in {time_zone}, not the file's day {day}"
            rejects.append(_reject(reason, source_file, number, raw))
            continue
        session_id = values["session_id"]
        if session_id in first_seen:
            reason = f"duplicate session_id (first on line {first_seen[session_id]})"
            rejects.append(_reject(reason, source_file, number, raw))
            continue
        row = WebSessionRow(date=day, source_file=source_file, **values)
        bad = _judge(row, web_session_problems, source_file, number, raw)
        if bad:
            rejects.append(bad)
            continue
        first_seen[session_id] = number
        rows.append(row)
    return ParsedFile(rows, rejects, frozenset(unknown))


# -- landed files on disk -----------------------------------------------------------------------


def landed_file_day(path: Path) -> date:
    """The day a landed file is for, from its name (``contacts_2026-06-30.csv``)."""
    match = _FILE_DAY.search(Path(path).name)
    if match is None:
        raise ValueError(f"{path} is not named <kind>_<YYYY-MM-DD>.<csv|json|jsonl>")
    return date.fromisoformat(match[1])


def parse_landed_file(path: Path, *, time_zone: str) -> ParsedFile[Any]:
    """Parse a file from the landing folder by its suffix; the day comes from its name and
    export timestamps without an offset are read in the tenant's ``time_zone``."""
    path = Path(path)
    day = landed_file_day(path)
    data = path.read_bytes()
    if path.suffix == ".jsonl":
        return parse_web_sessions_jsonl(data, source_file=path.name, day=day, time_zone=time_zone)
    parse = parse_contact_export_csv if path.suffix == ".csv" else parse_contact_export_json
    return parse(data, source_file=path.name, day=day, default_tz=ZoneInfo(time_zone))
