"""No import cycles between tabletop's modules: each module can be read knowing only what it imports."""

import grimp
import networkx as nx
import pytest


def cycles_in(imports: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another, directly or not."""
    edges = nx.DiGraph()
    for module, imported in imports.items():
        edges.add_node(module)
        edges.add_edges_from((module, other) for other in imported)
    return sorted(sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1)


def _cycles(exclude_type_checking_imports: bool) -> list[list[str]]:
    graph = grimp.build_graph(
        "tabletop", cache_dir=None, exclude_type_checking_imports=exclude_type_checking_imports
    )
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    return cycles_in(imports)


@pytest.fixture(scope="module")
def runtime_cycles() -> list[list[str]]:
    return _cycles(exclude_type_checking_imports=True)


def test_the_graph_holds_the_package():
    graph = grimp.build_graph("tabletop", cache_dir=None)
    assert {"tabletop.engine", "tabletop.loader", "tabletop.checks"} <= graph.modules
    assert "tabletop.checks" in graph.find_modules_directly_imported_by("tabletop.loader")


def test_no_module_imports_itself_back_at_run_time(runtime_cycles):
    """Lazy (in-function) imports count: a cycle hidden in a function is still a cycle."""
    assert runtime_cycles == [], f"import cycles: {runtime_cycles}"


def test_no_cycle_even_counting_type_only_imports():
    """Type-only imports count too, in the core and the adapters alike: a screen names what it
    asks of its app as a protocol (`tabletop/ui/apps.py`), the browser pages what they ask of
    their host (`net.pages.PageHost`), never the class that holds them."""
    cycles = _cycles(exclude_type_checking_imports=False)
    assert cycles == [], f"import cycles: {cycles}"


def test_a_cycle_is_found_when_there_is_one():
    """The check itself: modules importing each other, directly or through a third, are found."""
    imports = {"t.a": {"t.b"}, "t.b": {"t.c"}, "t.c": {"t.a", "t.d"}, "t.d": set(), "t.ui.x": {"t.ui.y"}}
    imports["t.ui.y"] = {"t.ui.x"}
    assert cycles_in(imports) == [["t.a", "t.b", "t.c"], ["t.ui.x", "t.ui.y"]]
    assert cycles_in({"t.a": {"t.b"}, "t.b": set()}) == []
