"""YAML configuration files whose errors name the file, the line and the field.

`read_yaml` refuses what a plain `yaml.safe_load` would let through silently: a key given twice in
one mapping (the later one would win). `describe_error` turns the first pydantic error into one
line, never the raw dump, and never the offending input (it may be a secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ValueError):
    """A configuration that is wrong; the message names file, line and field where known."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        where = ":".join(str(x) for x in (file, line) if x is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.message, self.file, self.line, self.field = message, file, line, field


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys in a mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: SafeLoader reports it below
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True, slots=True)
class YamlFile:
    path: Path
    data: dict[str, Any]
    root: yaml.Node | None

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """1-based line of the deepest node of `loc` present in the file (None: not in the file)."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                nxt = node.value[key]
            else:
                nxt = None
            if nxt is None:
                break
            node = nxt
            line = node.start_mark.line + 1
        return line

    def has(self, loc: tuple[int | str, ...]) -> bool:
        value: Any = self.data
        for key in loc:
            in_list = isinstance(value, list) and isinstance(key, int) and key < len(value)
            if not (in_list or (isinstance(value, dict) and key in value)):
                return False
            value = value[key]
        return True


def read_yaml(path: str | Path) -> YamlFile:
    """A YAML mapping with its node tree (for line numbers); ConfigFileError otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", file=str(path)) from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: str | Path) -> YamlFile:
    """`text` (YAML, or JSON, which YAML reads too) as `read_yaml` reads a file; `path` names it in errors."""
    path = Path(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigFileError(
            f"invalid YAML: {problem}", file=str(path), line=mark.line + 1 if mark else None
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError("expected a mapping at the top level", file=str(path), line=1)
    return YamlFile(path, data, root)


def describe_error(exc: ValidationError, source: YamlFile | None = None) -> ConfigFileError:
    """The first error of `exc` as one line, with the file and line when it comes from `source`."""
    first = exc.errors(include_input=False, include_url=False)[0]
    loc = tuple(first["loc"])
    field = ".".join(str(p) for p in loc) or None
    more = f" (+{exc.error_count() - 1} more errors)" if exc.error_count() > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    if source is None:
        return ConfigFileError(f"{message}{more}", field=field)
    return ConfigFileError(f"{message}{more}", file=str(source.path), line=source.line_of(loc), field=field)


def load_yaml_model(path: str | Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    source = read_yaml(path)
    try:
        return model.model_validate(source.data, context=context)
    except ValidationError as exc:
        raise describe_error(exc, source) from None
