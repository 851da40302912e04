"""The common ground of resolving one scenario file: its problems, variables and text rendering.

A resolver collects every mistake as a Problem and goes on; `tabletop.injectlibrary` (injects
and `use:`) and `tabletop.merging` (rubric sets and regimes) add their parts to it, and
`tabletop.loader` puts the whole scenario together.
"""

from __future__ import annotations

from typing import Any

from tabletop.datafolders import catalog_for
from tabletop.problems import Problem, Span, allowed_keys, show, validate_model
from tabletop.templating import TemplateProblem, render_text
from tabletop.yamlsource import SourceDoc


class ResolverBase:
    """One scenario file being resolved: its problems so far, its variables, its text rendering."""

    def __init__(self, doc: SourceDoc, seed: int | None) -> None:
        self.doc = doc
        self.seed_override = seed
        self.problems: list[Problem] = []
        self.span = Span(doc, ())
        self.catalog = catalog_for(doc.path)
        self.problems.extend(self.catalog.problems)
        self.values: dict[str, Any] = {}
        self.seed = 0
        self.invalid: set[str] = set()

    # text ---------------------------------------------------------------------------------
    def render(self, value: Any, span: Span) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return render_text(value, self.values)
        except TemplateProblem as error:
            self.problems.append(span.problem(str(error)))
            return value

    def render_tree(self, value: Any, span: Span) -> Any:
        if isinstance(value, str):
            return self.render(value, span)
        if isinstance(value, dict):
            return {k: self.render_tree(v, span.child(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render_tree(v, span.child(i)) for i, v in enumerate(value)]
        return value

    def render_keys(self, data: dict[str, Any], keys: tuple[str, ...], span: Span) -> dict[str, Any]:
        out = dict(data)
        for key in keys:
            if key in out:
                if isinstance(out[key], list):
                    out[key] = [self.render(v, span.child(key).child(i)) for i, v in enumerate(out[key])]
                else:
                    out[key] = self.render(out[key], span.child(key))
        return out

    def render_expectation(self, data: Any, span: Span) -> Any:
        return self.render_keys(data, ("title", "why"), span) if isinstance(data, dict) else data

    def item(self, model: Any, data: Any, span: Span, what: str) -> Any:
        if not isinstance(data, dict):
            keys = ", ".join(allowed_keys(model))
            self.problems.append(
                span.problem(f"expected a mapping describing one {what} ({keys}), received {show(data)}")
            )
            return None
        return validate_model(model, data, span, self.problems)
