"""A YAML reader for files that grant access: UTF-8 only, duplicate keys refused, every key's line kept.

PyYAML's `safe_load` lets a repeated key silently take the last value (`role: Reader` then `role: Owner`
three lines further down reads as Owner), decodes with whatever the platform prefers, and forgets where a
value came from. `load_strict` fails on each of these with `StrictYamlError` carrying the line, so the
caller can say "jitpim.yaml:12: duplicate key 'role' (first at line 9)".

Used for every YAML file jitpim reads (the access file, the sinks file); it imports nothing from jitpim, so
every layer may use it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

__all__ = ["LocatedDict", "StrictYamlError", "load_strict"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictYamlError(Exception):
    """Why the text is refused, and the 1-based line (None when it has none), for the caller to phrase."""

    def __init__(self, problem: str, line: int | None, hint: str, *, column: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column  # set for YAML syntax errors
        self.hint = hint


class LocatedDict(dict[Any, Any]):
    """A mapping that remembers the line it starts on and the line of each of its keys (1-based)."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return getattr(self, "key_lines", {}).get(key, self.line)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse duplicate keys and remember lines."""


def _construct_mapping(loader: _Loader, node: Node) -> LocatedDict:
    assert isinstance(node, MappingNode)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue  # `<<: *anchor` merges; keys written next to it override the merged ones, as YAML says
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise ConstructorError(None, None, "a mapping key must be a plain value", key_node.start_mark)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise StrictYamlError(
                f"duplicate key {key!r} (first at line {seen[key]})",
                line,
                f"Keep one {key}: YAML would silently use the last one.",
            )
        seen[key] = line
    loader.flatten_mapping(node)
    mapping = LocatedDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines.setdefault(key, key_node.start_mark.line + 1)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def load_strict(data: bytes) -> Any:
    """Parse UTF-8 YAML bytes (a BOM is allowed) into Python values whose mappings are `LocatedDict`s.

    Raises `StrictYamlError` for bytes that are not UTF-8, YAML syntax errors, duplicate keys and documents
    nested too deeply to be a configuration file.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StrictYamlError(
            f"byte 0x{data[exc.start]:02x} is not UTF-8",
            _line_of(data, exc.start),
            "Save the file as UTF-8 (without the legacy code page that wrote this byte).",
        ) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except StrictYamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or type(exc).__name__
        raise StrictYamlError(
            problem,
            mark.line + 1 if mark is not None else None,
            "Check the indentation, quotes and brackets there; docs/reference/access-file.md shows the format.",
            column=mark.column + 1 if mark is not None else 0,
        ) from None
    except yaml.reader.ReaderError as exc:
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise StrictYamlError(
            f"character {char!r} is not allowed in YAML",
            text[: exc.position].count("\n") + 1,
            "Remove the control character; write the value with printable characters only.",
        ) from None
    except yaml.YAMLError as exc:
        raise StrictYamlError(type(exc).__name__, None, "Check the file's syntax.", column=0) from None
    except RecursionError:
        raise StrictYamlError(
            "nested too deeply", None, "An access file is a few levels deep; this one is not an access file."
        ) from None
