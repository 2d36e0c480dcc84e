"""`plantproof api`: tenants, tokens and the HTTP service."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from infra.cli import fail

if TYPE_CHECKING:
    from api.settings import ApiSettings

app = typer.Typer(help="Platform service: HTTP API with tenants and roles.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens: create (shown once, stored hashed) and revoke.", no_args_is_help=True
)
tenant_app = typer.Typer(help="Tenants and the sites they own.", no_args_is_help=True)
app.add_typer(token_app, name="token")
site_app = typer.Typer(help="Sites and which tenant owns each.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(site_app, name="site")

ConfigOpt = typer.Option(None, "--config", "-c", help="API YAML (env PLANTPROOF_API_* wins)")
SitesOpt = typer.Option(..., "--site", help="a site the tenant owns (repeat for more)")
DsnOpt = typer.Option(None, "--dsn", help="PostgreSQL DSN (overrides the config and PLANTPROOF_API_DSN)")


def _settings(config: Path | None, dsn: str | None) -> ApiSettings:
    from api.settings import load_settings
    from infra.yamlconfig import ConfigFileError

    try:
        return load_settings(config, **({"dsn": dsn} if dsn else {}))
    except ConfigFileError as exc:
        raise fail(str(exc)) from None


@tenant_app.command("create")
def tenant_create(
    name: str = typer.Argument(..., help="tenant name"),
    sites: list[str] = SitesOpt,
    config: Path | None = ConfigOpt,
    dsn: str | None = DsnOpt,
) -> None:
    """Create a tenant owning the given sites (a site has one owner)."""
    from api.store import create_tenant
    from collector.errors import CollectorError

    settings = _settings(config, dsn)
    try:
        tenant_id = create_tenant(settings.dsn, name, sites)
    except CollectorError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"tenant {name} (id {tenant_id}) owns {', '.join(sorted(set(sites)))}")


@site_app.command("move")
def site_move(
    site: str = typer.Argument(..., help="the site (as gateways name it)"),
    to: str = typer.Option(..., "--to", help="the tenant that owns it from now on"),
    config: Path | None = ConfigOpt,
    dsn: str | None = DsnOpt,
) -> None:
    """Give a site, with its devices and data, to another tenant (or to one when it had none)."""
    from api.store import move_site
    from collector.errors import CollectorError

    settings = _settings(config, dsn)
    try:
        before = move_site(settings.dsn, site, to)
    except CollectorError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"site {site} now belongs to tenant {to}" + (f" (was {before})" if before else ""))


@token_app.command("create")
def token_create(
    tenant: str = typer.Option(..., "--tenant", help="tenant name"),
    role: str = typer.Option(..., "--role", help="admin, operator or auditor"),
    label: str = typer.Option("", "--label", help="what the token is for (kept with it)"),
    config: Path | None = ConfigOpt,
    dsn: str | None = DsnOpt,
) -> None:
    """Create a token; it is printed once on stdout and only its SHA-256 is stored."""
    from api.store import create_token
    from collector.errors import CollectorError

    settings = _settings(config, dsn)
    try:
        new = create_token(settings.dsn, tenant, role, label)
    except CollectorError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"token {new.id} for tenant {new.tenant}, role {new.role}: shown only now", err=True)
    typer.echo(new.token)


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="the token's id (printed when it was created)"),
    config: Path | None = ConfigOpt,
    dsn: str | None = DsnOpt,
) -> None:
    """Revoke a token: from now on it is refused (401)."""
    from api.store import revoke_token
    from collector.errors import CollectorError

    settings = _settings(config, dsn)
    try:
        revoked = revoke_token(settings.dsn, token_id)
    except CollectorError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"token {token_id} revoked" if revoked else f"token {token_id} was revoked already")


@token_app.command("list")
def token_list(
    tenant: str | None = typer.Option(None, "--tenant", help="only this tenant's tokens"),
    config: Path | None = ConfigOpt,
    dsn: str | None = DsnOpt,
) -> None:
    """The tokens: id, tenant, role, label, when created and revoked (never a token's text)."""
    from api.store import list_tokens
    from collector.errors import CollectorError

    settings = _settings(config, dsn)
    try:
        tokens = list_tokens(settings.dsn, tenant)
    except CollectorError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{'id':>5}  {'tenant':20} {'role':9} {'created':20} {'revoked':20} label")
    for t in tokens:
        revoked = f"{t.revoked_at:%Y-%m-%d %H:%M:%S}" if t.revoked_at else "-"
        typer.echo(
            f"{t.id:>5}  {t.tenant:20} {t.role:9} {t.created_at:%Y-%m-%d %H:%M:%S}  {revoked:20} {t.label}"
        )


@app.command("run")
def run(config: Path | None = ConfigOpt, dsn: str | None = DsnOpt) -> None:
    """Serve the API (uvicorn) on the configured host and port."""
    settings = _settings(config, dsn)
    try:
        import uvicorn

        from api.app import create_app
    except ImportError as exc:
        raise fail(f"{exc.name} is not installed: pip install 'plantproof[api]'") from None
    from collector.errors import CollectorError
    from infra.yamlconfig import ConfigFileError

    try:
        application = create_app(settings)
    except (CollectorError, ConfigFileError) as exc:
        raise fail(str(exc)) from None
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="info")
