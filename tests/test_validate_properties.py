"""Random mutations of valid files only ever produce Problems, never another exception."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabletop.loader import Problem, resolve_scenario, validate
from tabletop.model import Scenario

DATA = Path(__file__).parent / "data"

JUNK = [
    None,
    0,
    -1,
    5,
    1e12,
    True,
    "",
    "junk",
    "T+",
    "+10m",
    "99:99",
    "day 0 09:00",
    "day 2 08:00",
    "72h",
    "1h30m",
    "all",
    "any",
    "marker:aware",
    "inject:alert",
    "inject:",
    "start",
    "{{ customer }}",
    "{{ nope }}",
    "{{ ''.__class__.__mro__ }}",
    "{% for %}",
    "{{ 'a' * 99999999 }}",
    [],
    {},
    ["coordinator"],
    [None],
    {"id": "x"},
    {"faker": "company"},
    {"value": 3},
    "x" * 300,
    "\u00e9\u00df\u2603",
]


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _ids(data: Any) -> list[tuple]:
    return [p for p in _paths(data) if p and p[-1] == "id"]


@st.composite
def mutations(draw, data: Any) -> Any:
    """Apply 1-4 mutations: delete keys, change types, rename keys, swap ids, junk strings."""
    import copy

    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            return copy.deepcopy(draw(st.sampled_from(JUNK)))
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        key = path[-1]
        kind = draw(st.sampled_from(["delete", "retype", "rename", "swap", "junk", "duplicate"]))
        if kind == "delete":
            del parent[key]
        elif kind == "retype":
            parent[key] = copy.deepcopy(draw(st.sampled_from(JUNK)))
        elif kind == "rename" and isinstance(parent, dict):
            new = draw(
                st.sampled_from(
                    [
                        "titel",
                        "id",
                        "at",
                        "when",
                        "use",
                        "to",
                        str(key) + "x",
                        str(key)[:-1] or "k",
                        "expects",
                    ]
                )
            )
            value = parent.pop(key)
            parent[new] = value
        elif kind == "swap":
            ids = _ids(data)
            if len(ids) >= 2:
                a, b = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
                pa, pb = _parent(data, a), _parent(data, b)
                pa["id"], pb["id"] = pb["id"], pa["id"]
                if draw(st.booleans()):
                    pa["id"] = pb["id"]
        elif kind == "junk":
            parent[key] = draw(st.text(min_size=0, max_size=20))
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return data


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name in ("scenarios", "injects", "scoring"):
        shutil.copytree(DATA / name, root / name)
    return root


def _check(tree: Path, target: str) -> None:
    result = validate([tree / target])
    assert all(isinstance(p, Problem) for p in result.problems)
    for problem in result.problems:
        assert str(problem).startswith(f"{problem.path}:")
    scenario, problems, _ = resolve_scenario(tree / "scenarios" / "good.yaml")
    assert (scenario is None) == bool(problems)
    if scenario is not None:
        assert isinstance(scenario, Scenario)
        Scenario.from_json(scenario.to_json())


TARGETS = [
    "scenarios/good.yaml",
    "injects/breach.yaml",
    "scoring/actions.yaml",
    "scoring/regimes.yaml",
    "scoring/breach.yaml",
]


@pytest.mark.parametrize("target", TARGETS)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutations_only_produce_problems(tree, target, data):
    original = (DATA / target).read_text()
    mutated = data.draw(mutations(yaml.safe_load(original)))
    path = tree / target
    try:
        path.write_text(yaml.safe_dump(mutated, sort_keys=False, allow_unicode=True))
        _check(tree, target)
    finally:
        path.write_text(original)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    position=st.integers(0, 10_000),
    junk=st.sampled_from(
        ["[", "]", ":", "{", "- ", "\t", "  ", "&a", "*a", "!!python/object x", "\n  -", "'", "<<: *a"]
    ),
)
def test_broken_yaml_text_only_produces_problems(tree, position, junk):
    path = tree / "scenarios" / "good.yaml"
    original = (DATA / "scenarios" / "good.yaml").read_text()
    cut = position % (len(original) + 1)
    try:
        path.write_text(original[:cut] + junk + original[cut:])
        _check(tree, "scenarios/good.yaml")
    finally:
        path.write_text(original)


def test_the_unmutated_tree_is_clean(tree):
    result = validate([tree / "scenarios", tree / "injects", tree / "scoring"])
    assert result.problems == []
