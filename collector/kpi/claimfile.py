"""Reading a claims file: errors name the file, the line and the field (infra.yamlconfig)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pydantic import ValidationError

from collector.kpi.claims import Claim, ClaimFile, Period
from collector.kpi.errors import KpiError
from infra.yamlconfig import ConfigFileError, YamlFile, describe_error, read_yaml


def load_claims(
    path: str | Path,
    *,
    baseline: Period | None = None,
    reporting: Period | None = None,
    sites: Collection[str] | None = None,
) -> list[Claim]:
    """Claims of one YAML file; `baseline`/`reporting` override every claim's periods, `sites`
    narrows every scope (parse_claims).

    Raises KpiError naming the file, the line and the field.
    """
    try:
        return parse_claims(read_yaml(path), baseline=baseline, reporting=reporting, sites=sites)
    except ConfigFileError as exc:
        raise KpiError(str(exc)) from None


def parse_claims(
    source: YamlFile,
    *,
    baseline: Period | None = None,
    reporting: Period | None = None,
    sites: Collection[str] | None = None,
) -> list[Claim]:
    """Claims of a parsed claims document, each with both periods; with `sites`, each claim's scope
    is narrowed to those sites and a claim naming another site is refused.

    Raises ConfigFileError naming the file, the line and the field.
    """
    try:
        parsed = ClaimFile.model_validate(source.data)
    except ValidationError as exc:
        raise describe_error(exc, source) from None

    def error(message: str, loc: tuple[str | int, ...]) -> ConfigFileError:
        field = ".".join(str(p) for p in loc)
        return ConfigFileError(message, file=str(source.path), line=source.line_of(loc), field=field)

    out: list[Claim] = []
    seen: set[str] = set()
    for i, claim in enumerate(parsed.claims):
        if claim.id in seen:
            raise error(f"duplicate id {claim.id!r}", ("claims", i, "id"))
        seen.add(claim.id)
        b = baseline or claim.baseline or parsed.periods.get("baseline")
        r = reporting or claim.reporting or parsed.periods.get("reporting")
        for name, period in (("baseline", b), ("reporting", r)):
            if period is None:
                raise error(f"missing (and no file-wide periods.{name})", ("claims", i, name))
        update: dict[str, object] = {"baseline": b, "reporting": r}
        if sites is not None:
            named = claim.scope.site
            wanted = [named] if isinstance(named, str) else named
            for site in wanted or ():
                if site not in sites:
                    raise error(f"no site {site!r}", ("claims", i, "scope", "site"))
            update["scope"] = claim.scope.model_copy(update={"site": list(wanted or sorted(sites))})
        out.append(claim.model_copy(update=update))
    return out
