"""The layering of the code: every import points down (README, "Architecture"), and nothing
outside the packages imports a private module of theirs."""

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Each package's layer, lowest first; a module may import its own layer and those below. A
#: module not named here has the layer of its package.
LAYERS = {
    "devices": 0,  # device physics (a package of its own)
    "crossbar.allocator": 0,
    "crossbar.core": 1,  # converters, mapping, MVM kernels, circuit, tile, drift, chip
    "crossbar.nn": 2,  # layers
    "crossbar.data": 3,
    "crossbar.io": 3,  # checkpoints, NIR, atomic writes
    "crossbar.studies": 4,  # training, evaluation, sweeps, device study, energy, reports
    "crossbar.models": 5,  # the models the tools build
    "crossbar.cli": 6,  # the command line and the demo
    "crossbar.__main__": 7,
    "crossbar": 7,
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    raise KeyError(f"{module}: give it a layer in LAYERS")


def _imports(path: Path, module: str) -> set[str]:
    """The project modules `path` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names = [f"{base}.{a.name}" for a in node.names]
            out.update(n if n in LAYERS else base for n in names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] in ("crossbar", "devices")}


def test_every_module_has_a_layer_and_imports_point_down():
    modules = sorted(ROOT.glob("crossbar/**/*.py")) + sorted(ROOT.glob("devices/**/*.py"))
    assert len(modules) > 40
    wrong = []
    for path in modules:
        module = _module(path)
        _layer(module)
        for target in _imports(path, module):
            if target.startswith("crossbar") and _layer(target) > _layer(module):
                wrong.append(f"{module} (layer {_layer(module)}) imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_benchmarks_and_notebooks_use_only_public_modules():
    sources = {p: p.read_text() for p in ROOT.glob("benchmarks/*.py")}
    for nb in ROOT.glob("notebooks/*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        sources[nb] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    private = []
    for path, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                head = name.split(".")
                if head[0] in ("crossbar", "devices") and any(p.startswith("_") for p in head):
                    private.append(f"{path.name}: {name}")
    assert not private, "private modules used outside the packages:\n" + "\n".join(private)


def test_names_moved_to_a_layer_namespace_keep_working():
    import importlib

    import crossbar

    for name, where in crossbar._MOVED.items():
        layer = importlib.import_module(f"crossbar.{where}")
        assert getattr(crossbar, name) is getattr(layer, name), name
    from crossbar import DEMO_TIMES, arctan, format_study  # the old spellings

    assert DEMO_TIMES is crossbar.studies.STUDY_TIMES
    assert arctan is crossbar.nn.arctan and format_study is crossbar.studies.format_study
    try:
        crossbar.no_such_name
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_abstract_variables_are_abstract_not_fields():
    """An `eqx.AbstractVar` written as a string (`from __future__ import annotations`) is an
    ordinary field to Equinox: the interfaces must hold none, and a subclass that leaves one
    unset cannot be built."""
    import dataclasses

    import crossbar
    import devices
    from devices._effects import _AbstractWrapper

    interfaces = (
        devices.AbstractDevice,
        devices.AbstractPulsedDevice,
        _AbstractWrapper,
        crossbar.AbstractMapping,
        crossbar.AbstractAnalogLayer,
        crossbar.AbstractAnalogWrapper,
    )
    for cls in interfaces:
        assert dataclasses.fields(cls) == (), (cls.__name__, dataclasses.fields(cls))
    assert [f.name for f in dataclasses.fields(devices.StuckAt)] == ["device", "p_low", "p_high"]
    assert devices.StuckAt(devices.PCM(), 0.01, 0.01).g_max == devices.PCM().g_max

    class NoRange(devices.AbstractDevice):  # g_min, g_max left abstract
        def _program(self, key, g_target):
            return g_target

        def _read(self, key, state, t):
            return state

        @property
        def is_stochastic(self):
            return False

        def current(self, g, v):
            return devices.ohmic(g, v)

    try:
        NoRange()
    except TypeError as e:
        assert "g_m" in str(e)
    else:
        raise AssertionError("a device without g_min/g_max must not be built")
