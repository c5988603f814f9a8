"""The package's layering, as its docstring states it: every module belongs to a listed entry, imports only from
entries listed before its own (or from its own entry), and there are no import cycles."""

import re
from pathlib import Path

import retnet_edu

PACKAGE = Path(retnet_edu.__file__).parent
IMPORT = re.compile(r"^\s*(?:from (retnet_edu(?:\.\w+)*) import ([\w, ]+)|import (retnet_edu(?:\.\w+)*))", re.M)


def documented_order() -> list[str]:
    doc = retnet_edu.__doc__
    return re.findall(r"``([a-z_.]+)``", doc[doc.index("Layers, lowest first") :])


def modules() -> dict[str, Path]:
    """Dotted name (relative to retnet_edu) → path, for every module of the package but ``__init__`` files."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        if rel.name != "__init__":
            out[".".join(rel.parts)] = path
    return out


def entry_of(name: str, order: list[str]) -> str | None:
    """The longest listed entry that is ``name`` or a package holding it."""
    hits = [e for e in order if name == e or name.startswith(e + ".")]
    return max(hits, key=len) if hits else None


def imports_of(path: Path, mods: dict[str, Path]) -> set[str]:
    """The package modules ``path`` imports (``from retnet_edu.a import b`` counts b when it is a module)."""
    found = set()
    for frm, names, imp in IMPORT.findall(path.read_text()):
        dotted = (frm or imp)[len("retnet_edu") :].lstrip(".")
        if not dotted:
            continue
        for n in names.split(",") if frm else []:
            sub = f"{dotted}.{n.strip()}"
            if sub in mods:
                found.add(sub)
        if dotted in mods:
            found.add(dotted)
    return found


def test_every_module_is_covered_by_a_documented_entry():
    order = documented_order()
    assert len(order) == len(set(order))
    for name in modules():
        assert entry_of(name, order) is not None, f"{name} is in no entry of the layering in retnet_edu/__init__.py"
    for entry in order:
        assert any(m == entry or m.startswith(entry + ".") for m in modules()), f"entry {entry} has no module"


def test_modules_import_only_from_earlier_layers_and_without_cycles():
    order = documented_order()
    mods = modules()
    graph = {name: imports_of(path, mods) for name, path in mods.items()}
    for name, deps in graph.items():
        mine = order.index(entry_of(name, order))
        for dep in deps:
            theirs = order.index(entry_of(dep, order))
            assert theirs <= mine, f"{name} imports {dep}, a later layer"
    state: dict[str, int] = {}

    def visit(n, path):
        if state.get(n) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path + [n]))
        if state.get(n) == 2:
            return
        state[n] = 1
        for d in graph[n]:
            visit(d, path + [n])
        state[n] = 2

    for n in graph:
        visit(n, [])
