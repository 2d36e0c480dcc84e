"""schemathesis against the served OpenAPI document: every operation, generated requests, no 500.

The service runs under uvicorn on a free port, as deployed. A fixed budget per operation keeps this
in `make test`. The token is tenant alpha's admin (every route); 4xx answers are the API doing its
job, and the documented 502/503/504 (a device that answered with an error, no broker configured, no
answer in time) are answers too. What may never happen is an internal error or a leaked traceback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.world import World, served

BUDGET = 6  # generated requests per operation
# Bundle uploads are zips: random bytes (the service must refuse them cleanly).
schemathesis.openapi.media_type("application/zip", st.binary(max_size=4096))


@pytest.fixture()
def service_url(world: World) -> Iterator[str]:
    with served(world.settings()) as url:
        yield url


@pytest.mark.timeout(600)
def test_no_generated_request_makes_an_internal_error(service_url: str, world: World) -> None:
    schema = schemathesis.openapi.from_url(f"{service_url}/api/v1/openapi.json")
    headers = world.auth("alpha", "admin")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=BUDGET, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=60)
            if response.status_code == 500 or "Traceback" in response.text:
                what = f"{case.method} {case.formatted_path} {case.query or ''}"
                failures.append(f"{what} -> {response.status_code}: {response.text[:300]}")

        call()
    assert operations >= 20  # the walk reached the whole document
    assert failures == []
