"""The README's Layout section names every module and package under tabletop/, and nothing else."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def layout_names(readme: str) -> set[str]:
    """The module (`x.py`) and package (`x/`) names the Layout section lists under `tabletop/`."""
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    names: set[str] = set()
    inside = False
    for line in block.splitlines():
        if line.startswith("tabletop/"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break  # the next top-level folder
        if inside and line.startswith("  ") and not line.startswith("   "):
            for word in line.split():
                if re.fullmatch(r"[a-z_]+(\.py|/)", word):
                    names.add(word)
                else:
                    break  # the description starts
    return names


def package_names(package: Path) -> set[str]:
    """The modules and subpackages directly under `package` (not __init__ or __main__)."""
    names = {p.name for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    names |= {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()}
    return names


def test_the_layout_section_lists_every_module_and_no_other():
    listed = layout_names((ROOT / "README.md").read_text(encoding="utf-8"))
    present = package_names(ROOT / "tabletop")
    assert "engine.py" in present and "ui/" in present
    missing, extra = sorted(present - listed), sorted(listed - present)
    assert (missing, extra) == ([], []), f"not in the README's Layout: {missing}; listed but absent: {extra}"


def test_layout_names_reads_names_until_the_description():
    readme = (
        "# x\n\n## Layout\n\n```\ntabletop/   the package\n  a.py b/    what they hold, c.py in prose\n"
        "               more prose d.py\n  e.py\nscenarios/  data\n  f.py\n```\n\n## Next\n"
    )
    assert layout_names(readme) == {"a.py", "b/", "e.py"}
