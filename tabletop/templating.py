"""Seeded scenario variables (one Faker) and text rendered in a Jinja2 sandbox."""

from __future__ import annotations

import difflib
import math
import re
import string
import sys
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

if TYPE_CHECKING:
    from faker import Faker

LOCALE = "en_GB"
"""A fixed locale, so the same seed gives the same text on every machine."""

_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_NOT_PROVIDERS = frozenset(
    {
        "seed",
        "seed_instance",
        "seed_locale",
        "add_provider",
        "get_providers",
        "provider",
        "get_formatter",
        "set_formatter",
        "set_arguments",
        "get_arguments",
        "del_arguments",
        "format",
        "parse",
        "factories",
        "locales",
        "weights",
        "random",
        "unique",
        "optional",
        "items",
        "generator_attrs",
        "cache_pattern",
        "xml",
        "json",
        "json_bytes",
        "csv",
        "tsv",
        "psv",
        "dsv",
        "zip",
        "tar",
        "image",
        "binary",
        "pyobject",
        "pystruct",
        "profile",
    }
)
_TEMPLATE_MARKERS = ("{{", "{%", "{#")
_MAX_ARGUMENT = 10_000
_UNBOUNDED_ARGUMENTS = frozenset({"min", "max", "min_value", "max_value", "step"})


class VariableError(ValueError):
    """A variable that cannot be generated; the message says what was expected."""


class TemplateProblem(ValueError):
    """A text that cannot be rendered (undefined variable, bad syntax, sandbox refusal)."""


_faker_instance: Faker | None = None
_faker_lock = threading.Lock()


def _faker() -> Faker:
    global _faker_instance
    if _faker_instance is None:
        from faker import Faker

        _faker_instance = Faker(LOCALE)
    return _faker_instance


def provider_names() -> list[str]:
    fake = _faker()
    return sorted(name for name in dir(fake) if _PROVIDER_NAME.match(name) and name not in _NOT_PROVIDERS)


def _plain(value: Any) -> Any:
    """Faker output as JSON-able data: text, numbers, booleans, lists of them."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)


def _provider(fake: Any, name: Any) -> Any:
    if not isinstance(name, str) or not _PROVIDER_NAME.match(name) or name in _NOT_PROVIDERS:
        raise VariableError(
            f"expected a faker provider name such as company or first_name, received {name!r}"
        )
    method = getattr(fake, name, None)
    if method is None or not callable(method):
        close = difflib.get_close_matches(name, provider_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise VariableError(
            f"unknown faker provider {name!r}{hint}; for a fixed text write {{value: {name}}}"
        )
    return method


def generate_values(variables: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Generate each variable with one Faker seeded with `seed`, in the order written.

    A variable is a provider name (`customer: company`), a provider with keyword arguments
    (`{faker: random_int, min: 1, max: 9}`), or a fixed value (`{value: acme}`; a bare number
    or boolean is fixed too). Returns (values, problems by variable name).
    """
    with _faker_lock:  # one shared Faker: reseeding and drawing must not interleave
        return _generate(_faker(), variables, seed)


def _generate(fake: Any, variables: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict[str, str]]:
    fake.seed_instance(seed)
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, spec in variables.items():
        try:
            if isinstance(spec, str):
                values[name] = _plain(_provider(fake, spec)())
            elif isinstance(spec, (bool, int, float)):
                values[name] = spec
            elif isinstance(spec, dict):
                if "value" in spec:
                    extra = sorted(set(spec) - {"value"})
                    if extra:
                        raise VariableError(
                            f"a fixed value takes only `value`, received also {', '.join(extra)}"
                        )
                    values[name] = _plain(spec["value"])
                elif "faker" in spec:
                    method = _provider(fake, spec["faker"])
                    kwargs = {k: v for k, v in spec.items() if k != "faker"}
                    for key, argument in kwargs.items():
                        if isinstance(argument, float) and not math.isfinite(argument):
                            raise VariableError(f"argument {key}={argument} is not a finite number")
                        if (
                            isinstance(argument, int)
                            and not isinstance(argument, bool)
                            and argument.bit_length() > 64
                        ):
                            raise VariableError(f"argument {key} is too large (more than 64 bits)")
                        if (
                            key not in _UNBOUNDED_ARGUMENTS
                            and isinstance(argument, (int, float))
                            and not isinstance(argument, bool)
                            and abs(argument) > _MAX_ARGUMENT
                        ):
                            raise VariableError(
                                f"argument {key}={argument:g} is too large for a scenario text (at most {_MAX_ARGUMENT})"
                            )
                        if isinstance(argument, (str, list, dict)) and len(argument) > _MAX_ARGUMENT:
                            raise VariableError(
                                f"argument {key} is too long (at most {_MAX_ARGUMENT} characters or items)"
                            )
                    try:
                        values[name] = _plain(method(**kwargs))
                    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as error:
                        raise VariableError(
                            f"faker provider {spec['faker']!r} refused arguments {kwargs}: {error}"
                        ) from None
                else:
                    raise VariableError(
                        "expected a provider name, {faker: PROVIDER, ...arguments} or {value: TEXT}, "
                        f"received a mapping with keys {', '.join(map(str, spec)) or 'none'}"
                    )
            else:
                raise VariableError(
                    "expected a provider name, {faker: PROVIDER, ...arguments} or {value: TEXT}, "
                    f"received {type(spec).__name__}"
                )
        except VariableError as error:
            problems[name] = str(error)
        except Exception as error:  # a provider failing in its own way is still the author's input
            problems[name] = f"faker provider failed: {type(error).__name__}: {error}"
    return values, problems


MAX_VALUE = 100_000
"""The largest text, list or rendered field a template may make (characters or items)."""
MAX_INT_BITS = 256
"""The largest integer a template may compute (about 77 digits)."""
MAX_RENDER_SECONDS = 1.0
"""How long one text may take to render."""
_MAX_PRODUCT = MAX_VALUE
_WIDTH_ARGUMENTS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_PRINTF_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMATTER = string.Formatter()


class RenderLimit(SecurityError):
    """A template that would make a value too large or run too long."""


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    return 0


def _check_value(value: Any) -> Any:
    """`value` itself if it is within the limits, else RenderLimit."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise RenderLimit(f"a number larger than {MAX_INT_BITS} bits")
    elif _size(value) > MAX_VALUE:
        raise RenderLimit(f"a value of more than {MAX_VALUE:,} characters or items")
    elif isinstance(value, (list, tuple)):
        total = 0
        for item in value:
            total += _size(item)
            if total > MAX_VALUE:
                raise RenderLimit(f"a list holding more than {MAX_VALUE:,} characters or items")
    return value


def _check_widths(text: Any) -> None:
    """Refuse printf-style widths or precisions beyond MAX_VALUE (`%999999999s`) or from `*`."""
    if not isinstance(text, str):
        return
    for match in _PRINTF_WIDTH.finditer(text):
        for group in match.groups():
            if group == "*" or (group and (len(group) > 6 or int(group) > MAX_VALUE)):
                raise RenderLimit("a format width or precision that is too large")


def _check_format(text: Any) -> None:
    """Refuse `str.format` widths beyond MAX_VALUE (`{:999999999}`) or given by a nested field."""
    if not isinstance(text, str):
        return
    try:
        fields = list(_FORMATTER.parse(text))
    except ValueError:
        return  # str.format itself reports the mistake
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise RenderLimit("a format width given by another field")
        for number in re.findall(r"\d+", spec):
            if len(number) > 6 or int(number) > MAX_VALUE:
                raise RenderLimit("a format width or precision that is too large")


def _check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, bool):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise RenderLimit("an infinite or undefined number as an argument")
        if isinstance(value, (int, float)) and abs(value) > MAX_VALUE:
            raise RenderLimit(f"an argument larger than {MAX_VALUE:,}")


def _check_replace(text: Any, args: tuple[Any, ...]) -> None:
    if isinstance(text, str) and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        hits = text.count(args[0]) if args[0] else len(text) + 1
        if len(text) + hits * len(args[1]) > MAX_VALUE:
            raise RenderLimit(f"a replacement making more than {MAX_VALUE:,} characters")


def _check_join(separator: Any, items: Any) -> None:
    if isinstance(items, (list, tuple)):
        total = len(str(separator)) * len(items) + sum(
            _size(str(i)) if not isinstance(i, str) else len(i) for i in items[: MAX_VALUE + 1]
        )
        if total > MAX_VALUE:
            raise RenderLimit(f"a join making more than {MAX_VALUE:,} characters")


class _Budget(threading.local):
    """The time and size budget of the render running on this thread."""

    deadline: float = 0.0
    lines: int = 0
    active: bool = False


_budget = _Budget()


def _trace_lines(frame: Any, event: str, arg: Any) -> Any:
    if event == "line":
        _budget.lines += 1
        for value in frame.f_locals.values():
            _check_value(value)
            if isinstance(value, Namespace):
                for inner in value._Namespace__attrs.values():
                    _check_value(inner)
        if _budget.lines % 32 == 0 and time.perf_counter() > _budget.deadline:
            raise RenderLimit(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")
    return _trace_lines


def _trace_calls(frame: Any, event: str, arg: Any) -> Any:
    # only the template's own compiled code is followed line by line
    if frame.f_code.co_filename == "<template>":
        return _trace_lines
    return None


def _bounded_filter(name: str, function: Any) -> Any:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args[1:], kwargs)
        if name == "format" and args:
            _check_widths(args[0])
        elif name == "replace" and args:
            _check_replace(args[0], args[1:])
        elif name == "join" and args:
            _check_join(args[1] if len(args) > 1 else kwargs.get("d", ""), _listed(args[0]))
        return _check_value(function(*args, **kwargs))

    for attribute in ("jinja_pass_arg",):
        if hasattr(function, attribute):
            setattr(bounded, attribute, getattr(function, attribute))
    bounded.__name__ = getattr(function, "__name__", name)
    return bounded


def _listed(value: Any) -> Any:
    return value if isinstance(value, (list, tuple)) else None


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if not (0 <= n <= 20 and 0 <= min <= max <= 200):
        raise RenderLimit("lipsum takes at most 20 paragraphs of at most 200 words")
    from jinja2.utils import generate_lorem_ipsum

    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


class _BoundedNamespace(Namespace):
    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, _check_value(value))


class ScenarioSandbox(SandboxedEnvironment):
    """The sandbox texts render in: no Python internals, no value beyond MAX_VALUE characters
    or items, no number beyond MAX_INT_BITS bits, and no render longer than MAX_RENDER_SECONDS."""

    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = _lipsum
        self.globals["namespace"] = _BoundedNamespace

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise RenderLimit("exponent too large")
            if isinstance(left, (int, float)) and abs(left) > 2**64 and right > 1:
                raise RenderLimit("a power of a number that is too large")
        elif operator == "*":
            for text, count in ((left, right), (right, left)):
                if (
                    isinstance(text, (str, list, tuple))
                    and isinstance(count, int)
                    and len(text) * count > _MAX_PRODUCT
                ):
                    raise RenderLimit("repetition too large")
        elif operator == "%":
            _check_widths(left)
        return _check_value(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)  # `'{:999999999}'.format(1)` is refused before it runs
        return wrapped

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if name in _WIDTH_ARGUMENTS or __obj is _lipsum or name == "range":
            _check_arguments(args, kwargs)
        if isinstance(owner, str):
            if name == "replace":
                _check_replace(owner, args)
            elif name == "join" and args:
                _check_join(owner, _listed(args[0]))
        return _check_value(super().call(__context, __obj, *args, **kwargs))


_environment: SandboxedEnvironment | None = None


def environment() -> SandboxedEnvironment:
    global _environment
    if _environment is None:
        _environment = ScenarioSandbox(undefined=StrictUndefined, autoescape=False)
    return _environment


@lru_cache(maxsize=2048)
def _compiled(text: str) -> Any:
    return environment().from_string(text)


def _render_bounded(template: Any, values: dict[str, Any]) -> str:
    """Render within the budget: each value and the output within MAX_VALUE, the time within
    MAX_RENDER_SECONDS (checked line by line in the template's own code)."""
    if _budget.active:  # a render inside a render (not expected): the outer budget holds
        return _join_bounded(template.generate(values))
    previous = sys.gettrace()
    _budget.deadline = time.perf_counter() + MAX_RENDER_SECONDS
    _budget.lines = 0
    _budget.active = True
    sys.settrace(_trace_calls)
    try:
        return _join_bounded(template.generate(values))
    finally:
        sys.settrace(previous)
        _budget.active = False


def _join_bounded(chunks: Any) -> str:
    parts: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_VALUE:
            raise RenderLimit(f"the rendered text is longer than {MAX_VALUE:,} characters")
        parts.append(chunk)
    return "".join(parts)


def has_template(text: str) -> bool:
    return any(marker in text for marker in _TEMPLATE_MARKERS)


def render_text(text: str, values: dict[str, Any]) -> str:
    """Render one text with the values; raises TemplateProblem with an author-facing message."""
    if not has_template(text):
        return text
    try:
        return _render_bounded(_compiled(text), values)
    except RenderLimit as error:
        raise TemplateProblem(
            f"template refused: it would make {error}"
            if not str(error).startswith("rendering")
            else f"template refused: {error}"
        ) from None
    except RecursionError:
        raise TemplateProblem("template refused: it nests or recurses too deeply") from None
    except SecurityError as error:
        reason = " (templates may not reach Python internals)" if "unsafe" in str(error) else ""
        raise TemplateProblem(f"template refused by the sandbox: {error}{reason}") from None
    except UndefinedError as error:
        raise TemplateProblem(_undefined_message(error, values)) from None
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"template syntax error on its line {error.lineno}: {error.message}") from None
    except TemplateError as error:
        raise TemplateProblem(f"template error: {error}") from None
    except Exception as error:  # e.g. ZeroDivisionError inside an expression
        raise TemplateProblem(f"template failed: {type(error).__name__}: {error}") from None


def check_syntax(text: str) -> None:
    """Parse a template without rendering it (for library texts whose variables are unknown)."""
    if not has_template(text):
        return
    try:
        environment().parse(text)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"template syntax error on its line {error.lineno}: {error.message}") from None


def _undefined_message(error: UndefinedError, values: dict[str, Any]) -> str:
    message = str(error.message or error)
    match = re.match(r"'([^']+)' is undefined", message)
    if match:
        name = match.group(1)
        close = difflib.get_close_matches(name, list(values), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(values)) or "none"
        return f"undefined variable {name!r}{hint}; the scenario's variables are: {known}"
    return f"undefined value in template: {message}"
