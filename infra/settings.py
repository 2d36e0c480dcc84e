"""One settings grammar for every program: a YAML file under `PLANTPROOF_<PROGRAM>_...` variables.

A program's settings class is a pydantic-settings `BaseSettings` with `env_prefix` set to
`PLANTPROOF_<PROGRAM>_` and `env_nested_delimiter="__"`: `PLANTPROOF_GATEWAY_MQTT__PASSWORD` sets
`mqtt.password`. `load_settings` reads the file as the lowest-priority source (keeping its node tree
for line numbers), lets the environment win over it and explicit overrides win over both, and turns
the first validation error into one line that names file:line and field, or the variable. A
variable under the program's prefix that names no setting is refused, and a flat name that
means a nested one (`PLANTPROOF_GATEWAY_MQTT_PASSWORD`) is refused naming the right one. Neither
message ever quotes a value: it may be a secret.

Relative paths in the file resolve against its folder: validators read it with `config_base(info)`.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from infra.yamlconfig import ConfigFileError, YamlFile, describe_error, read_yaml

S = TypeVar("S", bound=BaseSettings)
_FILE: contextvars.ContextVar[YamlFile | None] = contextvars.ContextVar("settings_file", default=None)
_BASE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("settings_base", default=None)


def config_base(info: ValidationInfo) -> Path:
    """The folder relative paths resolve against: the context's `base`, else the file being loaded."""
    ctx = info.context or {}
    if "base" in ctx:
        return Path(ctx["base"])
    return _BASE.get() or Path(".")


class YamlSettingsSource(PydanticBaseSettingsSource):
    """The YAML file being loaded by `load_settings`, as a settings source."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        source = _FILE.get()
        return (source.data.get(field_name) if source else None), field_name, False

    def __call__(self) -> dict[str, Any]:
        source = _FILE.get()
        return dict(source.data) if source is not None else {}


class YamlSettings(BaseSettings):
    """Base of the programs' settings: init values, then the environment, then the YAML file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, file_secret_settings, YamlSettingsSource(settings_cls)


def _prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix") or "").upper()


def _field_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every settable path of a model: its fields, and the fields of nested models below them."""
    paths: set[tuple[str, ...]] = set()
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        paths.add(path)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                paths |= _field_paths(candidate, path)
    return paths


def check_environment(cls: type[BaseSettings], environ: dict[str, str] | None = None) -> None:
    """Refuse variables under the program's prefix that name no setting (ConfigFileError)."""
    prefix = _prefix(cls)
    if not prefix:
        return
    environ = dict(os.environ if environ is None else environ)
    paths = _field_paths(cls)
    spelled = {"__".join(p).upper(): p for p in paths}
    for name in sorted(environ):
        if not name.upper().startswith(prefix):
            continue
        rest = name.upper()[len(prefix) :]
        if rest in spelled:
            continue
        hint = next(
            (prefix + key for key in sorted(spelled) if "__" in key and key.replace("__", "_") == rest),
            None,
        )
        if hint is not None:
            raise ConfigFileError(f"environment variable {name} is not a setting: use {hint}")
        raise ConfigFileError(f"environment variable {name} names no setting (nested fields use __)")


def load_settings(cls: type[S], path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> S:
    """Settings from `path` (YAML), the environment winning over the file, `overrides` over both.

    ConfigFileError names the file and line (or the environment variable) and the field."""
    overrides = dict(overrides or {})
    source: YamlFile | None = None
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigFileError("does not exist", file=str(path))
        source = read_yaml(path)
    check_environment(cls)
    file_token = _FILE.set(source)
    base_token = _BASE.set(source.path.resolve().parent if source is not None else None)
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise describe_settings_error(cls, exc, source, overrides) from None
    finally:
        _FILE.reset(file_token)
        _BASE.reset(base_token)


def describe_settings_error(
    cls: type[BaseSettings], exc: ValidationError, source: YamlFile | None, overrides: dict[str, Any]
) -> ConfigFileError:
    loc = tuple(exc.errors(include_input=False)[0]["loc"])
    given = bool(loc) and loc[0] in overrides
    for depth in range(len(loc), 0, -1):  # the variable may set a whole section or one field
        env = _prefix(cls) + "__".join(str(p) for p in loc[:depth]).upper()
        if not given and env in os.environ:
            return ConfigFileError(f"environment variable {env}: {describe_error(exc).message}")
    if source is not None and loc and not given and source.has(loc[:1]):
        return describe_error(exc, source)
    if source is not None and not loc:
        return ConfigFileError(describe_error(exc).message, file=str(source.path))
    return describe_error(exc)
