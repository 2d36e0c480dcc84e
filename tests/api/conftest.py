from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api.settings import ApiSettings
from tests.api.world import World, build, client


@pytest.fixture()
def world(pg_dsn: str) -> World:
    return build(pg_dsn)


@pytest.fixture()
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client(ApiSettings(dsn=world.dsn)) as (c, _):
        yield c
