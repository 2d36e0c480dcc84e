"""The platform service: an HTTP API over the collector's database, scoped by tenant and role.

`api.app.create_app` builds the FastAPI application; `api.store` keeps tenants, tokens and the
audit log; `api.cli` mounts `plantproof api` (tenants, tokens, run).
"""
