"""schemathesis against the served OpenAPI document: every operation, generated requests, no 500.

The service runs under uvicorn on a free port, as deployed. A fixed budget per operation keeps this
in `make test`. The token is tenant alpha's admin (every route); 4xx answers are the API doing its
job, and the documented 502/503/504 (a device that answered with an error, no broker configured, no
answer in time) are answers too. What may never happen is an internal error or a leaked traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from tests.api.world import World
from tests.servers import free_port

BUDGET = 6  # generated requests per operation
# Bundle uploads are zips: random bytes (the service must refuse them cleanly).
schemathesis.openapi.media_type("application/zip", st.binary(max_size=4096))


@pytest.fixture()
def served(world: World) -> Iterator[str]:
    port = free_port()
    app = create_app(world.settings())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="schemathesis-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.mark.timeout(600)
def test_no_generated_request_makes_an_internal_error(served: str, world: World) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/api/v1/openapi.json")
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
