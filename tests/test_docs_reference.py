"""docs/case_reference.md keeps up with the code: every key of every closure kind with its default,
the side names of every grid, a 2-D Burgers example that runs; and the repository cites no document
it does not hold."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

import oceanclosure
from oceanclosure.cases import closures as configs
from oceanclosure.cases.boundary import ALL_SIDES
from oceanclosure.grid import SIDES

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "case_reference.md"
TEXT = DOC.read_text()

#: The section of the reference that lists the keys a class declares itself (inherited keys are in
#: the section of the class that declares them).
def _kind_name(kind) -> str:
    return kind.model_fields["kind"].annotation.__args__[0]


SECTIONS = {
    configs._LibraryTerms: "Library keys",
    configs.NetworkConfig: "Network keys",
    configs._DelayConfig: "Delay keys",
    **{kind: f'kind = "{_kind_name(kind)}"' for kind in configs.CLOSURE_KINDS},
}


def _section(title: str, level: str = "###") -> str:
    match = re.search(rf"^{level} {re.escape(title)}\n(.*?)(?=^#{{2,3}} |\Z)", TEXT, flags=re.DOTALL | re.MULTILINE)
    assert match, f"docs/case_reference.md has no section '{level} {title}'"
    return match.group(1)


def _rows(section: str) -> dict[str, list[str]]:
    """``{key: [type, default, meaning]}`` of the key tables in a section."""
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        key = re.fullmatch(r"`(\w+)`", cells[0]) if cells else None
        if key and len(cells) == 4:
            rows[key.group(1)] = cells[1:]
    return rows


def _declared(cls) -> list[str]:
    return [k for k in vars(cls).get("__annotations__", {}) if k in cls.model_fields and k != "kind"]


def _owner(kind, key: str):
    return next(c for c in kind.__mro__ if key in vars(c).get("__annotations__", {}))


def _toml(value):
    return [_toml(v) for v in value] if isinstance(value, tuple) else value


def _default_problem(field, cell: str) -> str | None:
    """The documented default against the schema's: "required", "none ...", or a TOML literal."""
    if field.is_required():
        return None if cell == "required" else f"documented default {cell!r}, but the key is required"
    default = field.get_default(call_default_factory=True)
    if default is None:
        return None if cell.startswith(("none", "required")) else f"documented default {cell!r}, schema: none"
    literal = re.match(r"`([^`]+)`", cell)
    if literal is None:
        return f"documented default {cell!r} is not a TOML value in backticks (schema: {default!r})"
    documented = tomllib.loads(f"value = {literal.group(1)}")["value"]
    return None if documented == _toml(default) else f"documented default {documented!r}, schema {default!r}"


OWNERS = sorted({_owner(kind, key) for kind in (*configs.CLOSURE_KINDS, configs.NetworkConfig)
                 for key in kind.model_fields if key != "kind"}, key=lambda c: c.__name__)


def test_every_closure_kind_has_a_section():
    for kind in configs.CLOSURE_KINDS:
        _section(f'kind = "{_kind_name(kind)}"')


@pytest.mark.parametrize("cls", OWNERS, ids=[c.__name__ for c in OWNERS])
def test_every_key_is_documented_with_its_default(cls):
    """The keys a config class declares are the rows of its section, with the schema's defaults."""
    rows = _rows(_section(SECTIONS[cls]))
    declared = _declared(cls)
    assert sorted(rows) == sorted(declared), f"{SECTIONS[cls]}: documented {sorted(rows)}, schema {sorted(declared)}"
    problems = [f"{key}: {p}" for key in declared if (p := _default_problem(cls.model_fields[key], rows[key][1]))]
    assert not problems, f"{SECTIONS[cls]}: " + "; ".join(problems)


def test_the_drift_check_sees_a_wrong_default():
    field = configs.SmagorinskyClosureConfig.model_fields["cs"]
    assert _default_problem(field, "`1.0`") is None
    assert _default_problem(field, "`2.0`") is not None
    assert _default_problem(configs.EddyDiffusivityClosureConfig.model_fields["kappa"], "`0.0`") is not None


def test_the_side_names_of_every_grid():
    rows = {}
    for line in _section("Grids and the names of their sides", "##").splitlines():
        cells = [c.strip() for c in line.strip().split("|")[1:-1]]
        dims = re.match(r"`(\[[^`]*\])`", cells[0]) if cells else None
        if dims:
            rows[tuple(json.loads(dims.group(1)))] = cells[3]
    assert sorted(rows) == sorted([("x",), ("z",), ("x", "y")])
    for dims, sides in rows.items():
        named = re.findall(r"`(\w+)`", sides)
        assert named == [s for d in dims for s in SIDES[d]], (dims, sides)
    assert set(ALL_SIDES) == {s for pair in SIDES.values() for s in pair}


def _burgers_2d(tmp_path: Path, swap: bool = False):
    text = re.search(r"```toml\n(.*?)```", _section("2-D Burgers", "##"), flags=re.DOTALL).group(1)
    if swap:  # the initial condition mirrored in the diagonal: u0(y, x)
        text = text.replace("sin(2*pi*x)*cos(2*pi*y)", "sin(2*pi*y)*cos(2*pi*x)")
    directory = tmp_path / ("swapped" if swap else "case")
    directory.mkdir()
    (directory / "case.toml").write_text(text)
    case = oceanclosure.load_case(directory)
    return case, oceanclosure.run(case, truth=False)


def test_the_2d_burgers_example_conserves_mass_and_treats_both_axes_alike(tmp_path):
    """The documented 2-D case runs; periodic, it keeps Σ u to round-off; and with the same flux on
    both axes, the mirrored initial condition u0(y, x) gives the mirrored solution."""
    case, ds = _burgers_2d(tmp_path)
    u = ds["u"].values
    assert ds["u"].dims == ("time", "y", "x") and case.grid.ny == u.shape[1]
    assert np.all(np.isfinite(u))
    totals = u.sum(axis=(1, 2))
    np.testing.assert_allclose(totals, totals[0], rtol=0, atol=1e-12 * u.size)
    assert np.max(np.abs(u[-1] - u[0])) > 1e-2  # it evolved
    _, mirrored = _burgers_2d(tmp_path, swap=True)
    np.testing.assert_allclose(mirrored["u"].values, np.swapaxes(u, 1, 2), rtol=0, atol=1e-12)


#: Files of the repository that may cite documents: text we wrote (not the environment, not build output).
TEXT_SUFFIXES = {".md", ".py", ".toml", ".cff", ".txt", ".cfg"}
SKIPPED = {".venv", ".git", "oceanclosure.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", "output"}


def _texts():
    for path in REPO.rglob("*"):
        if path.suffix in TEXT_SUFFIXES and path.is_file() and not SKIPPED & set(path.relative_to(REPO).parts):
            yield path


def test_every_cited_document_is_in_the_repository():
    """A markdown file named anywhere (in docs, code, cases) is one that the repository holds."""
    missing = []
    for path in _texts():
        for name in set(re.findall(r"[\w./-]*\w\.md\b", path.read_text(errors="replace"))):
            if not any(p.exists() for p in (path.parent / name, REPO / name, REPO / "docs" / name)):
                missing.append(f"{path.relative_to(REPO)}: {name}")
    assert not missing, missing


def test_the_docs_index_lists_every_document():
    index = (REPO / "docs" / "README.md").read_text()
    assert [p.name for p in sorted((REPO / "docs").glob("*.md")) if p.name != "README.md"
            if f"]({p.name})" not in index] == []
