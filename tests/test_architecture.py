"""The import direction of the README's Architecture section, checked on the source with ``ast``."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "genjax"

FAMILIES = ("bijectors", "continuous", "diffusion", "flow_matching", "vae", "consistency", "bridge", "gan")
# What each package may import from genjax (besides itself). ``config`` is the config boundary:
# inside a family only ``builders.py`` (and the package's __init__, which registers builders)
# may read it.
BASE = {"errors"}
# Families share the layer below them; data and metrics (which import no family) serve them all.
CORE = BASE | {"ode", "nn", "distributions", "model", "data", "metrics"}
ALLOWED = {
    "errors": set(),
    "ode": set(),
    "nn": BASE,
    "distributions": BASE,
    "data": BASE,
    "metrics": BASE | {"data"},
    "model": {"ode"},
    "bijectors": CORE | {"config"},
    "continuous": CORE | {"config"},
    "diffusion": CORE | {"config"},
    "flow_matching": CORE | {"config"},
    # A family may reuse another's public building blocks where the idea is the same.
    "vae": CORE | {"config", "bijectors"},
    "consistency": CORE | {"config", "diffusion", "flow_matching"},
    "bridge": CORE | {"config", "flow_matching"},
    "gan": CORE | {"config", "diffusion"},
    "registry": BASE | {"model"},
    "config": BASE | {"ode", "data", "registry"},
    "train": BASE | {"config", "data", "registry", "metrics", "model", "ode"},
    # the leaderboard reads every family through the registry and trains through train
    "leaderboard": BASE | {"config", "data", "registry", "train"},
    "cli": BASE | {"config", "train", "data", "registry", "ode", "leaderboard"},
    "launch": BASE,
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: pathlib.Path) -> set[str]:
    """The genjax packages a file imports (``from genjax import data`` counts as ``data``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "genjax":
            if node.module == "genjax":
                out.update(alias.name for alias in node.names)
            else:
                out.add(_package(node.module))
        elif isinstance(node, ast.Import):
            out.update(_package(a.name) for a in node.names if a.name.split(".")[0] == "genjax")
    return out - {""}


def _files():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        package = rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else ""
        if package:
            yield package, rel, path


@pytest.mark.parametrize("package, rel, path", list(_files()), ids=lambda v: str(v) if isinstance(v, pathlib.Path) else None)
def test_imports_follow_the_architecture(package, rel, path):
    assert package in ALLOWED, f"genjax/{rel}: package {package!r} is not in the architecture map (README)"
    imported = _imports(path) - {package}
    extra = imported - ALLOWED[package]
    assert not extra, f"genjax/{rel} imports {sorted(extra)}; {package!r} may import only {sorted(ALLOWED[package])}"
    if package in FAMILIES and "config" in imported:
        assert rel.name in ("builders.py", "__init__.py"), f"genjax/{rel} reads config; only builders.py may"


def test_continuous_diffusion_and_flow_matching_do_not_import_one_another():
    trio = {"continuous", "diffusion", "flow_matching"}
    for package, rel, path in _files():
        if package in trio:
            assert not (_imports(path) & (trio - {package})), f"genjax/{rel}"
