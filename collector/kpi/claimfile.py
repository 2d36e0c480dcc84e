"""Reading a claims file: errors name the file, the line and the field (infra.yamlconfig)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from collector.kpi.claims import Claim, ClaimFile, Period
from collector.kpi.errors import KpiError
from infra.yamlconfig import ConfigFileError, describe_error, read_yaml


def load_claims(
    path: str | Path, *, baseline: Period | None = None, reporting: Period | None = None
) -> list[Claim]:
    """Claims of one YAML file; `baseline`/`reporting` override every claim's periods.

    Raises KpiError naming the file, the line and the field.
    """
    try:
        source = read_yaml(path)
        parsed = ClaimFile.model_validate(source.data)
    except ConfigFileError as exc:
        raise KpiError(str(exc)) from None
    except ValidationError as exc:
        raise KpiError(str(describe_error(exc, source))) from None
    out: list[Claim] = []
    seen: set[str] = set()
    for i, claim in enumerate(parsed.claims):
        if claim.id in seen:
            where = ConfigFileError(
                f"duplicate id {claim.id!r}",
                file=str(source.path),
                line=source.line_of(("claims", i, "id")),
                field=f"claims.{i}.id",
            )
            raise KpiError(str(where))
        seen.add(claim.id)
        b = baseline or claim.baseline or parsed.periods.get("baseline")
        r = reporting or claim.reporting or parsed.periods.get("reporting")
        for name, period in (("baseline", b), ("reporting", r)):
            if period is None:
                missing = ConfigFileError(
                    f"missing (and no file-wide periods.{name})",
                    file=str(source.path),
                    line=source.line_of(("claims", i)),
                    field=f"claims.{i}.{name}",
                )
                raise KpiError(str(missing))
        out.append(claim.model_copy(update={"baseline": b, "reporting": r}))
    return out
