"""Scored leads from ml.lead_scores, with what the marts know of each contact (source, created
date) and its journey (marts.journey_touches); similar leads by their CRM notes (pgvector)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from psycopg import AsyncConnection, sql
from pydantic import BaseModel, Field

from ml.similarity import similar_leads_async
from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from serving_api.params import IsoDate

router = APIRouter(prefix="/v1/leads", tags=["leads"])

LeadSort = Literal["score", "created_at"]
LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The CRM contact id.")]

# One row per contact: the funnel has a row per deal, and every row carries the contact's own
# created date and source. Scored leads the marts do not know yet are not listed.
_LEADS_SQL = """
WITH contacts AS (
    SELECT DISTINCT ON (contact_id) contact_id, lead_created_at AS created_at,
           original_source AS source
    FROM marts.funnel
    ORDER BY contact_id
)
SELECT s.lead_id, s.score, s.tier, c.source, c.created_at, s.model_name, s.model_version,
       s.scored_at, s.top_features
FROM ml.lead_scores AS s
JOIN contacts AS c ON c.contact_id = s.lead_id::text
WHERE (%(tier)s::smallint IS NULL OR s.tier = %(tier)s)
  AND (%(source)s::text IS NULL OR c.source = %(source)s)
  AND (%(created_from)s::date IS NULL OR c.created_at >= %(created_from)s::date)
  AND (%(created_to)s::date IS NULL OR c.created_at < %(created_to)s::date + 1)
  AND {after}
ORDER BY {key} DESC, s.lead_id
LIMIT %(limit)s
"""
# Keyset pagination: rows strictly after the cursor's (key, lead_id) in the listing's order,
# so ties on the key are broken by the id and no row is skipped or repeated between pages.
_SORT_KEY = {"score": sql.SQL("s.score"), "created_at": sql.SQL("c.created_at")}
_AFTER = sql.SQL(
    "(%(after_id)s::bigint IS NULL OR {key} < %(after_value)s "
    "OR ({key} = %(after_value)s AND s.lead_id > %(after_id)s))"
)

_JOURNEY_SQL = """
SELECT touch_index, touched_at, channel, platform, campaign_id, ad_id, match_method
FROM marts.journey_touches WHERE lead_id = %(lead)s ORDER BY touch_index
"""
_SCORES_SQL = "SELECT lead_id, score, tier FROM ml.lead_scores WHERE lead_id = ANY(%(leads)s)"


class Factor(BaseModel):
    feature: str = Field(examples=["job_title=vp"])
    contribution: float = Field(
        description="Its push on the calibrated logit (gradient × input).", examples=[0.42]
    )


class LeadSummary(BaseModel):
    lead_id: int = Field(examples=[1042])
    score: float = Field(
        ge=0, le=1, description="Calibrated chance of closed-won in 90 days.", examples=[0.31]
    )
    tier: int = Field(ge=1, le=4, description="1: the tenant's top quartile.", examples=[1])
    source: str | None = Field(description="The CRM's original source.", examples=["paid_search"])
    created_at: datetime = Field(examples=["2026-06-18T14:03:00Z"])
    model_version: int = Field(examples=[3])


class LeadPage(BaseModel):
    items: list[LeadSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page.",
        examples=["eyJzb3J0Ijoic2NvcmUiLCJ2YWx1ZSI6MC4zMSwiaWQiOjEwNDJ9"],
    )


class Touch(BaseModel):
    touch_index: int = Field(examples=[1])
    touched_at: datetime = Field(examples=["2026-06-12T09:30:00Z"])
    channel: str = Field(examples=["paid_social"])
    platform: str | None = Field(examples=["meta"])
    campaign_id: str | None = Field(examples=["23851"])
    ad_id: str | None = Field(examples=["238510001"])
    match_method: str = Field(examples=["click_id"])


class LeadDetail(LeadSummary):
    model_name: str = Field(examples=["lead_score"])
    scored_at: datetime
    top_factors: list[Factor] = Field(description="Largest |contribution| first.")
    journey: list[Touch] = Field(description="The lead's touches before it converted, in order.")


class SimilarLead(BaseModel):
    lead_id: int = Field(examples=[2077])
    similarity: float = Field(description="Cosine similarity of the notes.", examples=[0.83])
    notes: str = Field(examples=["Budget approved for next quarter."])
    score: float | None = Field(examples=[0.27])
    tier: int | None = Field(examples=[1])


class SimilarLeads(BaseModel):
    lead_id: int = Field(examples=[1042])
    neighbours: list[SimilarLead] = Field(
        description="Most similar first; empty when the lead has no notes."
    )


def _encode_cursor(sort: LeadSort, value: Any, lead_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps({"sort": sort, "value": value, "id": lead_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: LeadSort) -> tuple[Any, int]:
    """The (key, lead_id) a page ended at; 422 for anything this API did not hand out."""
    invalid = HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid cursor")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        cursor_sort, value, lead_id = decoded["sort"], decoded["value"], decoded["id"]
        if cursor_sort != sort:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the cursor belongs to sort={cursor_sort}, not sort={sort}",
            )
        if not isinstance(lead_id, int) or isinstance(lead_id, bool) or not 0 < lead_id < 2**63:
            raise invalid
        if sort == "score":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise invalid
            return float(value), lead_id
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise invalid
        return parsed, lead_id
    except HTTPException:
        raise
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as error:
        raise invalid from error


def leads_query(
    sort: LeadSort = "score",
    limit: int = 50,
    tier: int | None = None,
    source: str | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    after: tuple[Any, int] | None = None,
) -> tuple[sql.Composed, dict[str, Any]]:
    """The one query behind a page of leads (also run bare by bench/api.py)."""
    key = _SORT_KEY[sort]
    query = sql.SQL(_LEADS_SQL).format(key=key, after=_AFTER.format(key=key))
    after_value, after_id = after if after else (None, None)
    params = {
        "tier": tier,
        "source": source,
        "created_from": created_from,
        "created_to": created_to,
        "after_value": after_value,
        "after_id": after_id,
        "limit": limit,
    }
    return query, params


async def load_leads(
    conn: AsyncConnection,
    sort: LeadSort = "score",
    limit: int = 50,
    tier: int | None = None,
    source: str | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    cursor: str | None = None,
) -> LeadPage:
    """A page of the connection's tenant's scored leads (the API and the dashboard)."""
    after = _decode_cursor(cursor, sort) if cursor else None
    query, params = leads_query(sort, limit + 1, tier, source, created_from, created_to, after)
    rows = await (await conn.execute(query, params, prepare=True)).fetchall()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = _encode_cursor(sort, last[sort], last["lead_id"])
    return LeadPage(items=[LeadSummary(**row) for row in page], next_cursor=next_cursor)


@router.get("", operation_id="list_leads", response_model=LeadPage)
async def list_leads(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    sort: Annotated[
        LeadSort, Query(description="Highest score first, or newest lead first.")
    ] = "score",
    tier: Annotated[int | None, Query(ge=1, le=4, description="Only this tier.")] = None,
    source: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[0-9A-Za-z_.-]+$",
            description="Only leads with this original source.",
            examples=["paid_search"],
        ),
    ] = None,
    created_from: Annotated[
        IsoDate | None,
        Query(description="Created on or after this day.", examples=["2026-06-01"]),
    ] = None,
    created_to: Annotated[
        IsoDate | None,
        Query(description="Created on or before this day.", examples=["2026-06-30"]),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` of the previous page."),
    ] = None,
) -> LeadPage:
    """The tenant's scored leads, filtered by tier, source and created date, a page at a time
    (keyset pagination: pages stay stable while scores tie)."""
    for day in (created_from, created_to):
        if day is not None and not 1900 <= day.year <= 2999:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "dates must be in 1900-2999")
    if created_from and created_to and created_to < created_from:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "created_to is before created_from"
        )
    return await load_leads(conn, sort, limit, tier, source, created_from, created_to, cursor)


async def _lead_or_404(conn: AsyncConnection, lead_id: int) -> dict[str, Any]:
    """The lead as the listing shows it, by id; 404 when the tenant has no such scored lead."""
    query = sql.SQL(_LEADS_SQL).format(
        key=_SORT_KEY["score"], after=sql.SQL("s.lead_id = %(lead)s")
    )
    _, params = leads_query(limit=1)
    row = await (await conn.execute(query, {**params, "lead": lead_id}, prepare=True)).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lead {lead_id} for this tenant")
    return row


@router.get("/{lead_id}", operation_id="get_lead", response_model=LeadDetail)
async def get_lead(
    principal: CurrentPrincipal, conn: TenantConnection, lead_id: LeadId
) -> LeadDetail:
    """One lead: score, tier, the factors that moved its score most, the model version, and
    its journey. Another tenant's lead answers 404."""
    row = await _lead_or_404(conn, lead_id)
    touches = await (await conn.execute(_JOURNEY_SQL, {"lead": lead_id}, prepare=True)).fetchall()
    return LeadDetail(
        **{k: v for k, v in row.items() if k != "top_features"},
        top_factors=[Factor(**factor) for factor in row["top_features"]],
        journey=[Touch(**touch) for touch in touches],
    )


@router.get("/{lead_id}/similar", operation_id="list_similar_leads", response_model=SimilarLeads)
async def similar_leads(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    lead_id: LeadId,
    k: Annotated[int, Query(ge=1, le=50, description="How many neighbours.")] = 10,
) -> SimilarLeads:
    """The leads whose CRM notes read most like this lead's (cosine over pgvector)."""
    await _lead_or_404(conn, lead_id)
    try:
        neighbours = await similar_leads_async(conn, principal.tenant_id, lead_id, k)
    except LookupError:
        return SimilarLeads(lead_id=lead_id, neighbours=[])  # no notes, nothing to compare
    ids = [int(n.entity_id) for n in neighbours]
    scores = {
        row["lead_id"]: row
        for row in await (await conn.execute(_SCORES_SQL, {"leads": ids})).fetchall()
    }
    return SimilarLeads(
        lead_id=lead_id,
        neighbours=[
            SimilarLead(
                lead_id=int(n.entity_id),
                similarity=n.similarity,
                notes=n.content,
                score=scores.get(int(n.entity_id), {}).get("score"),
                tier=scores.get(int(n.entity_id), {}).get("tier"),
            )
            for n in neighbours
        ],
    )
