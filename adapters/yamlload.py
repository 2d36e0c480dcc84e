"""Load YAML into a pydantic model so that errors name the file, the line and the field."""

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from adapters.errors import ConfigError
from infra import yamlconfig

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    try:
        return yamlconfig.load_yaml_model(path, model, context)
    except yamlconfig.ConfigFileError as exc:
        raise ConfigError(exc.message, file=exc.file, line=exc.line, field=exc.field) from None
