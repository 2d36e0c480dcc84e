from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.world import World, build, client


@pytest.fixture()
def world(pg_dsn: str, tmp_path: Path) -> World:
    return build(pg_dsn, tmp_path / "evidence")


@pytest.fixture()
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client(world.settings()) as (c, _):
        yield c
