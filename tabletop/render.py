"""Seeded scenario variables (one Faker) and text rendered in a Jinja2 sandbox."""

from __future__ import annotations

import difflib
import re
import threading
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

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
                        if (
                            key not in _UNBOUNDED_ARGUMENTS
                            and isinstance(argument, int)
                            and abs(argument) > _MAX_ARGUMENT
                        ):
                            raise VariableError(
                                f"argument {key}={argument} is too large for a scenario text (at most {_MAX_ARGUMENT})"
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


_MAX_PRODUCT = 100_000


class ScenarioSandbox(SandboxedEnvironment):
    """The sandbox texts render in: no Python internals, and no huge `*` or `**` results."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("exponent too large")
            return left**right
        for text, count in ((left, right), (right, left)):
            if (
                isinstance(text, (str, list, tuple))
                and isinstance(count, int)
                and len(text) * count > _MAX_PRODUCT
            ):
                raise SecurityError("repetition too large")
        return left * right


_environment: SandboxedEnvironment | None = None


def environment() -> SandboxedEnvironment:
    global _environment
    if _environment is None:
        _environment = ScenarioSandbox(undefined=StrictUndefined, autoescape=False)
    return _environment


@lru_cache(maxsize=2048)
def _compiled(text: str) -> Any:
    return environment().from_string(text)


def has_template(text: str) -> bool:
    return any(marker in text for marker in _TEMPLATE_MARKERS)


def render_text(text: str, values: dict[str, Any]) -> str:
    """Render one text with the values; raises TemplateProblem with an author-facing message."""
    if not has_template(text):
        return text
    try:
        return str(_compiled(text).render(values))
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
