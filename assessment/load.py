"""YAML at the edge: the answer sheet, the factory declaration and the scenario catalogue.

Errors name the file, the line and the field (adapters.yamlload), and, through the pure rules they
call, the indicator, scenario or band at fault. Values that come from documents name them: a
`documents:` mapping gives each document an id and a title, and every declared value cites an id,
as in the platform's declared.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from adapters.errors import ConfigError
from adapters.yamlload import load_yaml_model
from assessment import factory, selfassess
from assessment.errors import AnswerError, InputError
from devicemodel.configroot import config_root

SHIPPED_SCENARIOS = config_root() / "scenarios.yaml"


def _number(v: Any) -> int | float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PydanticCustomError("number", "{value} is not a number", {"value": repr(v)})
    return v


Number = Annotated[int | float, PlainValidator(_number)]


def _broken(exc: AnswerError | str) -> PydanticCustomError:
    return PydanticCustomError("rule", "{reason}", {"reason": str(exc)})


def _cite(documents: dict[str, str], ref: str, what: str) -> str:
    if ref not in documents:
        raise _broken(f"{what}: document {ref!r} is not listed under 'documents'")
    return f"{ref}: {documents[ref]}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_field(ind: selfassess.Indicator, field: str | None, v: Any, data: dict[str, Any]) -> None:
    """The seed's rule for one field of an answer, given the fields validated before it."""
    if field == "not_applicable":
        selfassess.check_not_applicable(ind)
    elif field == "level":
        selfassess.check_level(ind, v)
    elif ind.answered_by == "amount" and field == "score":
        selfassess.declared_band(ind, selfassess.exact(v))
    elif field == "score" and data.get("level") is not None:
        selfassess.band_of(ind, data["level"], selfassess.exact(v), data.get("fit"))
    elif ind.answered_by == "amount" and field == "investment_total":
        selfassess.check_amounts(ind, selfassess.exact(v), Fraction(0))
    elif (
        ind.answered_by == "amount"
        and field == "investment_2024"
        and data.get("investment_total") is not None
    ):
        selfassess.check_amounts(ind, selfassess.exact(data["investment_total"]), selfassess.exact(v))


class _Answer(_Strict):
    indicator: StrictInt
    not_applicable: StrictBool = False
    level: StrictInt | None = None
    fit: Literal["basic", "fairly", "fully"] | None = None
    score: Number | None = None
    investment_total: Number | None = None  # indicator 7: 万元 since 2014
    investment_2024: Number | None = None  # indicator 7: 万元 in 2024
    source: str | None = None  # indicator 7: document id of the declared score

    @field_validator("indicator")
    @classmethod
    def _known(cls, v: int) -> int:
        try:
            selfassess.indicator(v)
        except AnswerError as exc:
            raise _broken(exc) from None
        return v

    @field_validator("not_applicable", "level", "score", "investment_total", "investment_2024")
    @classmethod
    def _rules(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None or v is False or "indicator" not in info.data:
            return v
        ind = selfassess.indicator(info.data["indicator"])
        try:
            _check_field(ind, info.field_name, v, info.data)
        except AnswerError as exc:
            raise _broken(exc) from None
        return v

    @model_validator(mode="after")
    def _complete(self) -> _Answer:
        ind = selfassess.indicator(self.indicator)
        amounts = ("investment_total", "investment_2024", "source")
        if self.not_applicable:
            needed: tuple[str, ...] = ()
            unwanted: tuple[str, ...] = ("level", "fit", "score", *amounts)
        elif ind.answered_by == "amount":
            needed, unwanted = ("score", *amounts), ("level", "fit")
        else:
            needed, unwanted = ("level", "score"), amounts
        missing = [f for f in needed if getattr(self, f) is None]
        extra = [f for f in unwanted if getattr(self, f) is not None]
        state = "not applicable" if self.not_applicable else f"answered by {ind.answered_by}"
        if missing:
            raise _broken(f"{ind.label} ({state}) needs {', '.join(missing)}")
        if extra:
            raise _broken(f"{ind.label} ({state}) takes no {', '.join(extra)}")
        return self

    def to_answer(self, documents: dict[str, str]) -> selfassess.Answer:
        if self.not_applicable:
            return selfassess.NotApplicable(self.indicator)
        assert self.score is not None
        score = selfassess.exact(self.score)
        if self.level is not None:
            return selfassess.LevelAnswer(self.indicator, self.level, score, self.fit)
        assert self.investment_total is not None and self.investment_2024 is not None and self.source
        return selfassess.AmountAnswer(
            self.indicator,
            selfassess.exact(self.investment_total),
            selfassess.exact(self.investment_2024),
            score,
            _cite(documents, self.source, f"indicator {self.indicator} source"),
        )


class _Sheet(_Strict):
    enterprise: str
    assessed_on: date | None = None
    documents: dict[str, str] = {}
    indicators: list[_Answer]

    @field_validator("indicators")
    @classmethod
    def _all_once(cls, v: list[_Answer], info: ValidationInfo) -> list[_Answer]:
        try:
            selfassess.check_complete([a.indicator for a in v])
        except AnswerError as exc:
            raise _broken(exc) from None
        docs = info.data.get("documents", {})
        for a in v:
            if a.source is not None:
                _cite(docs, a.source, f"indicator {a.indicator} source")
        return v


@dataclass(frozen=True, slots=True)
class AnswerSheet:
    path: str
    enterprise: str
    assessed_on: date | None
    answers: tuple[selfassess.Answer, ...]


def _load(path: str | Path, model: type[Any], context: dict[str, Any] | None = None) -> Any:
    try:
        return load_yaml_model(path, model, context)
    except ConfigError as exc:
        err = InputError(str(exc))
        err.file, err.line, err.field = exc.file, exc.line, exc.field
        raise err from None


def load_answers(path: str | Path) -> AnswerSheet:
    sheet: _Sheet = _load(path, _Sheet)
    answers = tuple(a.to_answer(sheet.documents) for a in sheet.indicators)
    return AnswerSheet(str(path), sheet.enterprise, sheet.assessed_on, answers)


def assess(path: str | Path) -> tuple[AnswerSheet, selfassess.Assessment]:
    sheet = load_answers(path)
    try:
        return sheet, selfassess.score_sheet(sheet.answers)
    except AnswerError as exc:
        raise InputError(str(exc), file=str(path)) from None


class _CatalogueEntry(_Strict):
    number: StrictInt
    name_zh: str
    name_en: str
    group: str
    stage: str
    tiers: list[str]
    guide_line: StrictInt
    reference_row: StrictInt
    reference_line: StrictInt
    reference_name_zh: str | None = None


class _Catalogue(_Strict):
    source: str
    scenarios: list[_CatalogueEntry]


def load_scenarios(path: str | Path = SHIPPED_SCENARIOS) -> tuple[factory.Scenario, ...]:
    cat: _Catalogue = _load(path, _Catalogue)
    scenarios = tuple(
        factory.Scenario(
            e.number,
            e.name_zh,
            e.name_en,
            e.group,
            e.stage,
            tuple(e.tiers),
            e.reference_row,
            e.reference_name_zh or e.name_zh,
        )
        for e in cat.scenarios
    )
    try:
        factory.check_catalogue(scenarios)
    except AnswerError as exc:
        raise InputError(str(exc), file=str(path)) from None
    return scenarios


class _Implemented(_Strict):
    number: StrictInt
    name: str | None = None
    level: str
    source: str | None = None

    @field_validator("level")
    @classmethod
    def _described(cls, v: str, info: ValidationInfo) -> str:
        if "number" in info.data:
            try:
                catalogue = (info.context or {})["catalogue"]
                factory.check_scenario(catalogue, info.data["number"], v, info.data.get("name"))
            except AnswerError as exc:
                raise _broken(exc) from None
        return v


class _Certificate(_Strict):
    document: str
    level: StrictInt


class _Maturity(_Strict):
    level: StrictInt
    source: str
    certificate: _Certificate | None = None


class _Declaration(_Strict):
    factory: str
    documents: dict[str, str] = {}
    maturity: _Maturity | None = None
    basic_requirements: dict[str, str] = {}
    scenarios: list[_Implemented] = []

    @field_validator("maturity")
    @classmethod
    def _maturity(cls, v: _Maturity | None, info: ValidationInfo) -> _Maturity | None:
        if v is not None:
            docs = info.data.get("documents", {})
            _cite(docs, v.source, "maturity source")
            if v.certificate:
                _cite(docs, v.certificate.document, "maturity certificate")
            try:
                factory.check_maturity(_maturity(v, docs))
            except AnswerError as exc:
                raise _broken(exc) from None
        return v

    @field_validator("basic_requirements")
    @classmethod
    def _requirements(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for key, ref in v.items():
            if key not in factory.BASIC_REQUIREMENTS:
                known = ", ".join(factory.BASIC_REQUIREMENTS)
                raise _broken(f"unknown basic requirement {key!r} (attachment 2 一, items 1-4: {known})")
            _cite(info.data.get("documents", {}), ref, f"basic requirement {key}")
        return v

    @field_validator("scenarios")
    @classmethod
    def _once(cls, v: list[_Implemented], info: ValidationInfo) -> list[_Implemented]:
        seen: set[int] = set()
        for s in v:
            if s.number in seen:
                raise _broken(f"scenario {s.number} is declared twice")
            seen.add(s.number)
            if s.source is not None:
                _cite(info.data.get("documents", {}), s.source, f"scenario {s.number} source")
        return v


def _maturity(m: _Maturity, docs: dict[str, str]) -> factory.Maturity:
    cert = m.certificate
    return factory.Maturity(
        m.level,
        f"{m.source}: {docs[m.source]}",
        f"{cert.document}: {docs[cert.document]}" if cert else None,
        cert.level if cert else None,
    )


def load_declaration(path: str | Path, catalogue: tuple[factory.Scenario, ...]) -> factory.Declaration:
    d: _Declaration = _load(path, _Declaration, {"catalogue": catalogue})
    docs = d.documents
    declaration = factory.Declaration(
        d.factory,
        tuple(
            factory.ImplementedScenario(
                s.number, s.level, s.name, f"{s.source}: {docs[s.source]}" if s.source else None
            )
            for s in d.scenarios
        ),
        _maturity(d.maturity, docs) if d.maturity else None,
        {k: f"{ref}: {docs[ref]}" for k, ref in d.basic_requirements.items()},
    )
    try:
        factory.check_declaration(declaration, catalogue)
    except AnswerError as exc:
        raise InputError(str(exc), file=str(path)) from None
    return declaration
