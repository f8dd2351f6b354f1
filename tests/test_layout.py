"""The layering of the code: every import points down (README, "Architecture"), and nothing
outside the packages imports a private module of theirs."""

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Each module's layer, lowest first; a module may import its own layer and those below.
LAYERS = {
    "devices": 0,  # device physics (a package of its own)
    "crossbar._checks": 0,
    "crossbar.allocator": 0,
    "crossbar._io": 0,
    # the crossbar core: converters, mapping, MVM kernels, circuit, tile, drift compensation,
    # the analog-layer interface, programming and reading a chip
    "crossbar._converters": 1,
    "crossbar._mapping": 1,
    "crossbar._product": 1,
    "crossbar._circuit": 1,
    "crossbar._tile": 1,
    "crossbar._analog_mvm": 1,
    "crossbar._drift": 1,
    "crossbar._layer": 1,
    "crossbar._chip": 1,
    # layers
    "crossbar._linear": 2,
    "crossbar._conv": 2,
    "crossbar._lif": 2,
    "crossbar._encoders": 2,
    "crossbar._pooling": 2,
    "crossbar._network": 2,
    "crossbar._stdp": 2,
    "crossbar._convert": 2,
    # data and IO of models
    "crossbar.data": 3,
    "crossbar._checkpoint": 3,
    "crossbar._nir": 3,
    # uses
    "crossbar._train": 4,
    "crossbar._sweep_result": 4,
    "crossbar._sweep": 4,
    "crossbar._device_study": 4,
    "crossbar._energy_report": 4,
    "crossbar._energy": 4,
    "crossbar._conversion_study": 4,
    "crossbar._stdp_study": 4,
    # the models the tools build, then the demo and the command line
    "crossbar.models": 5,
    "crossbar._demo": 6,
    "crossbar._commands": 6,
    "crossbar._cli_checks": 6,
    "crossbar._cli": 6,
    "crossbar.__main__": 7,
    "crossbar": 7,
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    if module.split(".")[0] == "devices":
        return 0
    return LAYERS[module]


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
        assert module.startswith("devices") or module in LAYERS, f"{module}: give it a layer"
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
