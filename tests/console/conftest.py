"""The API tests' world (two tenants, their tokens) and client serve the console tests too."""

from tests.api.conftest import http, world

__all__ = ["http", "world"]
