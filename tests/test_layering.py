"""The package's layering, as its docstring states it: a module imports only from modules listed before it (so
there are no import cycles), and every module is listed."""

import re
from pathlib import Path

import retnet_edu

PACKAGE = Path(retnet_edu.__file__).parent


def documented_order() -> list[str]:
    doc = retnet_edu.__doc__
    block = doc[doc.index("Layers, lowest first"):]
    return re.findall(r"``([a-z_]+)``", block)


def test_every_module_is_in_the_documented_layers():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert sorted(documented_order()) == modules


def test_modules_import_only_from_earlier_layers():
    order = documented_order()
    for path in PACKAGE.glob("*.py"):
        if path.stem == "__init__":
            continue
        for dep in re.findall(r"^\s*from \.([a-z_]+) import", path.read_text(), re.M):
            assert order.index(dep) < order.index(path.stem), f"{path.stem} imports {dep}, a later layer"
