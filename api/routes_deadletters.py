"""Dead letters of the tenant's sites, for operators: what was refused and why, payloads truncated.

A dead letter belongs to the site its topic names (JSON v1 `pp/v1/{site}/…`, Sparkplug
`spBv1.0/{group}/…`, the group being the site); one whose topic names no site belongs to no tenant.
The database cuts each payload to `dead_letter_payload_bytes`, so a listing never carries more.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Operating, Svc
from api.models import DeadLetter

router = APIRouter(prefix="/api/v1", tags=["dead letters"])

SITE_OF_TOPIC = """CASE WHEN topic LIKE 'pp/v1/%%' THEN split_part(topic, '/', 3)
     WHEN topic LIKE 'spBv1.0/%%' THEN split_part(topic, '/', 2) END"""
_LETTERS = f"""
SELECT id, received_at, topic, {SITE_OF_TOPIC} AS site, error,
       substring(payload FROM 1 FOR %(cut)s) AS head, octet_length(payload) AS payload_bytes
FROM dead_letters
WHERE {SITE_OF_TOPIC} = ANY(%(sites)s) AND (%(before)s::bigint IS NULL OR id < %(before)s)
ORDER BY id DESC LIMIT %(limit)s
"""


@router.get("/dead-letters", response_model=list[DeadLetter])
async def dead_letters(
    who: Operating,
    service: Svc,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, description="only letters older than this id (paging)")
    ] = None,
) -> list[DeadLetter]:
    """The tenant's dead letters, newest first; each payload cut to the service's bound."""
    cut = service.settings.limits.dead_letter_payload_bytes
    rows = await service.rows(
        _LETTERS, {"sites": list(who.sites), "before": before_id, "limit": limit, "cut": cut}
    )
    return [
        DeadLetter(
            id=r["id"],
            received_at=r["received_at"],
            topic=r["topic"],
            site=r["site"],
            error=r["error"],
            payload=bytes(r["head"]).decode("utf-8", errors="replace"),
            payload_bytes=r["payload_bytes"],
            truncated=r["payload_bytes"] > cut,
        )
        for r in rows
    ]
