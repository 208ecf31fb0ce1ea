"""Free-text search over the tenant's ad creatives: the query is embedded on the fly with the
same model that embedded the creatives, then matched by cosine over pgvector."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from ml.similarity import nearest_async, search_vector
from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection

if TYPE_CHECKING:
    from ml.embedder import TextEmbedder

router = APIRouter(prefix="/v1/creatives", tags=["creatives"])


class CreativeHit(BaseModel):
    creative_id: str = Field(description="`platform:ad_id`.", examples=["linkedin:5501"])
    platform: str = Field(examples=["linkedin"])
    ad_id: str = Field(examples=["5501"])
    text: str = Field(description="Headline and body.", examples=["Pipeline proof for the board"])
    similarity: float = Field(description="Cosine similarity to the query.", examples=[0.61])


class CreativeSearch(BaseModel):
    query: str = Field(examples=["pipeline proof for CMOs"])
    hits: list[CreativeHit] = Field(description="Most similar first.")


class EmbedderHolder:
    """The app's text embedder, loaded on the first search (not at start-up: most API
    processes never search, and the model costs seconds and memory), once."""

    def __init__(self) -> None:
        self._embedder: TextEmbedder | None = None
        self._loading = asyncio.Lock()
        # One encode at a time: the fast tokenizer refuses concurrent use from threads.
        self._encoding = asyncio.Lock()

    async def get(self) -> TextEmbedder:
        async with self._loading:
            if self._embedder is None:
                from ml.embedder import TextEmbedder  # torch and transformers: import when used

                self._embedder = await asyncio.to_thread(TextEmbedder)
        return self._embedder

    async def vector(self, text: str):
        """The query's vector, computed in a worker thread so the event loop keeps serving."""
        embedder = await self.get()
        async with self._encoding:
            return await asyncio.to_thread(search_vector, embedder, text)


@router.get("/search", operation_id="search_creatives", response_model=CreativeSearch)
async def search_creatives(
    request: Request,
    principal: CurrentPrincipal,
    conn: TenantConnection,
    q: Annotated[
        str,
        Query(
            min_length=2,
            max_length=200,
            description="What the creative should be about.",
            examples=["pipeline proof for CMOs"],
        ),
    ],
    k: Annotated[int, Query(ge=1, le=50, description="How many creatives.")] = 10,
) -> CreativeSearch:
    """The tenant's ad creatives whose text is closest in meaning to `q`."""
    text = q.strip()
    if len(text) < 2:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "q needs at least 2 characters besides spaces"
        )
    holder: EmbedderHolder = request.app.state.text_embedder
    vector = await holder.vector(text)
    neighbours = await nearest_async(conn, principal.tenant_id, "creative", vector, k)
    return CreativeSearch(
        query=text,
        hits=[
            CreativeHit(
                creative_id=n.entity_id,
                platform=n.entity_id.partition(":")[0],
                ad_id=n.entity_id.partition(":")[2],
                text=n.content,
                similarity=n.similarity,
            )
            for n in neighbours
        ],
    )
