"""Read YAML files while remembering the line and column of every key and value."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MAX_NODES = 200_000
_MAX_DEPTH = 64
_MAX_DIGITS = 100

KeyPath = tuple[str | int, ...]
Position = tuple[int, int]


class YamlSyntaxError(Exception):
    """A file that is not readable YAML; carries 1-based line and column."""

    def __init__(self, path: Path, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.col = col
        self.message = message


def display_path(path: Path | str) -> str:
    """A path as the user should read it: relative to the working directory when inside it."""
    path = Path(path)
    try:
        resolved = path.resolve()
        relative = resolved.relative_to(Path.cwd().resolve())
        return str(relative)
    except (ValueError, OSError):
        return str(path)


@dataclass(eq=False)
class SourceDoc:
    """One YAML file's data with the position of each key and value, by key path."""

    path: Path
    data: Any = None
    keys: dict[KeyPath, Position] = field(default_factory=dict)
    values: dict[KeyPath, Position] = field(default_factory=dict)
    duplicates: list[tuple[KeyPath, Position, Position]] = field(default_factory=list)
    """Keys written twice in one mapping: (key path, position of the repeat, of the first)."""

    @property
    def display(self) -> str:
        return display_path(self.path)

    def position(self, path: KeyPath, prefer_key: bool = False) -> Position:
        """Line and column of the key (or value) at `path`, or of its nearest existing parent."""
        current = tuple(path)
        while True:
            if prefer_key and current in self.keys:
                return self.keys[current]
            if current in self.values:
                return self.values[current]
            if current in self.keys:
                return self.keys[current]
            if not current:
                return (1, 1)
            current = current[:-1]
            prefer_key = True

    def exists(self, path: KeyPath) -> bool:
        return tuple(path) in self.values


def dotted(path: KeyPath) -> str:
    """`injects.3.body` for ('injects', 3, 'body'); `(top)` for the document itself."""
    return ".".join(str(part) for part in path) if path else "(top)"


def _mark(node: Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node tree into plain data, recording marks on the way."""

    def __init__(self, doc: SourceDoc) -> None:
        self.doc = doc
        self.count = 0
        self.constructor = SafeConstructor()

    def build(self, node: Node, path: KeyPath, depth: int = 0) -> Any:
        self.count += 1
        if self.count > _MAX_NODES or depth > _MAX_DEPTH:
            line, col = _mark(node)
            raise YamlSyntaxError(
                self.doc.path, line, col, "document too large or too deeply nested (recursive alias?)"
            )
        if isinstance(node, MappingNode):
            try:
                self.constructor.flatten_mapping(node)
            except yaml.MarkedYAMLError as error:
                mark = error.problem_mark or node.start_mark
                raise YamlSyntaxError(
                    self.doc.path, mark.line + 1, mark.column + 1, str(error.problem)
                ) from None
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    line, col = _mark(key_node)
                    raise YamlSyntaxError(
                        self.doc.path, line, col, "expected a plain key, received a list or mapping as a key"
                    )
                key = str(key_node.value)
                key_path = (*path, key)
                if key in result:
                    self.doc.duplicates.append((key_path, _mark(key_node), self.doc.keys[key_path]))
                self.doc.keys[key_path] = _mark(key_node)
                self.doc.values[key_path] = _mark(value_node)
                result[key] = self.build(value_node, key_path, depth + 1)
            return result
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                item_path = (*path, index)
                self.doc.values[item_path] = _mark(item)
                items.append(self.build(item, item_path, depth + 1))
            return items
        assert isinstance(node, ScalarNode)  # a YAML node is a mapping, a sequence or a scalar
        return self.scalar(node)

    def scalar(self, node: ScalarNode) -> Any:
        value = node.value
        if node.style:  # quoted or block scalars are always text
            return value
        tag = node.tag
        if tag == _NULL:
            return None
        if tag == _BOOL:
            # YAML 1.1 reads yes/no/on/off as booleans; authors mean words (`on: involve_dpo`)
            lowered = value.lower()
            return lowered == "true" if lowered in ("true", "false") else value
        if tag == _INT:
            if ":" in value:  # 10:30 would be sexagesimal 630; authors mean a clock time
                return value
            if len(value) > _MAX_DIGITS:
                line, col = _mark(node)
                raise YamlSyntaxError(
                    self.doc.path,
                    line,
                    col,
                    f"a number of {len(value)} digits; at most {_MAX_DIGITS} are read",
                )
            return self.constructor.construct_yaml_int(node)
        if tag == _FLOAT:
            if ":" in value:
                return value
            return self.constructor.construct_yaml_float(node)
        return value  # timestamps and anything else stay text; the model parses them


def parse_text(text: str, path: Path) -> SourceDoc:
    """Parse YAML text; raises YamlSyntaxError with the position of the first error."""
    doc = SourceDoc(path=path)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = str(error.problem or "invalid YAML")
        if error.context:
            message = (
                f"{error.context}: {message}"
                if "while" not in error.context
                else f"{message} ({error.context})"
            )
        raise YamlSyntaxError(path, line, col, f"invalid YAML: {message}") from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(path, 1, 1, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()
    if node is None:
        doc.data = None
        return doc
    doc.values[()] = _mark(node)
    doc.data = _Builder(doc).build(node, ())
    return doc


def read_yaml(path: Path | str, *, limit: int | None = None) -> SourceDoc:
    """Read and parse one YAML file; raises YamlSyntaxError (also for unreadable files).

    Only regular files of at most `limit` bytes (default `tabletop.files.MAX_INPUT_BYTES`) are
    read; anything else is refused before parsing, without echoing its content.
    """
    from tabletop.files import MAX_INPUT_BYTES, read_input

    path = Path(path)
    try:
        raw = read_input(path, limit=limit or MAX_INPUT_BYTES, what="YAML file")
    except OSError as error:
        raise YamlSyntaxError(path, 1, 1, str(error)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise YamlSyntaxError(path, line, 1, "expected UTF-8 text, received undecodable bytes") from None
    return parse_text(text, path)


def is_yaml(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and not path.name.startswith(".")


def yaml_files(folder: Path) -> list[Path]:
    """Every YAML file under a folder, sorted, skipping hidden folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            candidate = Path(root) / name
            if is_yaml(candidate):
                found.append(candidate)
    return found
