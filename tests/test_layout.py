"""The package dependency direction of DESIGN.md: nets <- agents <- league <- scripts,
envs <- league and envs <- scripts; nets and envs import nothing else of ludus."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nets", "agents", "envs", "league", "scripts")
ALLOWED = {
    "nets": set(),
    "envs": set(),
    "agents": {"nets"},
    "league": {"nets", "agents", "envs"},
    "scripts": {"nets", "agents", "envs", "league"},
}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_direction(package):
    for path in (ROOT / package).rglob("*.py"):
        bad = imported_packages(path) - ALLOWED[package] - {package}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("[a-z]*.py")))
def test_every_script_runs_as_a_file(script):
    """Run as files, scripts see their own folder first on sys.path, where league.py must not
    hide the league package."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, f"scripts/{script}", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout.lower()
