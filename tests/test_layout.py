"""The package layout of DESIGN.md: one import name (ludus), the dependency direction
nets <- agents <- league <- scripts, envs <- league and envs <- scripts (nets and envs import
nothing else of ludus), the watch/play windows on top of the league, the supervised and
generative models apart from the RL agents, and no import cycle anywhere."""

import ast
import shutil
import subprocess
import sys
import zipfile
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


def module_name(path: Path) -> str:
    """ludus.<package>.<module> of a source file."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(("ludus", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def imports(path: Path) -> set[str]:
    """Every module name imported by a file, at any depth (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def sources() -> list[Path]:
    return [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_direction(package):
    for path in (ROOT / package).rglob("*.py"):
        used = {name.split(".")[1] for name in imports(path) if name.startswith("ludus.")}
        bad = used - ALLOWED[package] - {package}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_everything_imports_ludus_names_only():
    """A bare `import agents` would load a second copy of a module (or another
    distribution's package of that name)."""
    for path in [*sources(), *ROOT.joinpath("tests").rglob("*.py")]:
        bare = {name for name in imports(path) if name.split(".")[0] in PACKAGES}
        assert not bare, f"{path.relative_to(ROOT)} imports {sorted(bare)} outside ludus"


def test_windows_sit_on_top_of_the_league_and_aux_models_apart_from_agents():
    for path in (ROOT / "league").rglob("*.py"):
        if "ui" not in path.relative_to(ROOT).parts:
            ui = {n for n in imports(path) if n.startswith("ludus.league.ui")}
            assert not ui, f"{path.relative_to(ROOT)} imports the windows: {sorted(ui)}"
    for path in (ROOT / "agents").rglob("*.py"):
        if "auxiliary" not in path.relative_to(ROOT).parts:
            aux = {n for n in imports(path) if n.startswith("ludus.agents.auxiliary")}
            assert not aux, f"{path.relative_to(ROOT)} imports auxiliary models: {sorted(aux)}"


def test_no_import_cycles():
    """Modules (deferred imports in functions included) form a DAG; a package's __init__
    counts as a module, so a submodule importing its own package's __init__ is a cycle."""
    names = {module_name(p): p for p in sources()}
    graph = {name: {m for m in imports(path) if m in names and m != name}
             for name, path in names.items()}
    visiting, done = [], set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join(
            visiting[visiting.index(node):] + [node])
        visiting.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("[a-z]*.py")))
def test_every_script_runs_as_a_file(script):
    """Run as files, scripts see their own folder first on sys.path (scripts/league.py
    there must not hide ludus.league)."""
    out = subprocess.run([sys.executable, f"scripts/{script}", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout.lower()


def test_console_entry_points_run():
    bin_dir = Path(sys.executable).parent
    for command in ("ludus-train", "ludus-league", "ludus-evaluate", "ludus-watch",
                    "ludus-play", "ludus-aux"):
        out = subprocess.run([str(bin_dir / command), "--help"], capture_output=True,
                             text=True, timeout=120, cwd="/")
        assert out.returncode == 0 and "usage" in out.stdout.lower(), (command, out.stderr)


def test_the_wheel_installs_one_top_level_name(tmp_path):
    """Built from a copy of the sources: `ludus` is the wheel's only import name, and every
    module and shipped config of the folders is in it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", *PACKAGES):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                          if (ROOT / name).is_dir() else {}))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("ludus-*.whl")
    files = zipfile.ZipFile(wheel).namelist()
    tops = {f.split("/")[0] for f in files if not f.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"ludus"}, tops
    expected = {f"ludus/{p.relative_to(ROOT)}" for package in PACKAGES
                for p in (ROOT / package).rglob("*") if p.suffix in (".py", ".yaml")}
    assert expected <= set(files), sorted(expected - set(files))
    entry_points = zipfile.ZipFile(wheel).read(
        next(f for f in files if f.endswith("entry_points.txt"))).decode()
    assert "ludus-train = ludus.scripts.train:main" in entry_points
