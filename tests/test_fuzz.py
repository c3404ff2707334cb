"""Seeded fuzzing of case files and ``[training]`` tables through the CLI.

Each mutated case either succeeds or exits non-zero with one ``error:`` line on
stderr and no traceback, and never with rc 3 ("this looks like a bug"). The
mutations are drawn from ``random.Random(seed)``, so a failure names the seed, the
mutation and the case text that reproduce it.
"""

from __future__ import annotations

import math
import random
import tomllib
from pathlib import Path

import pytest
import tomli_w

from oceanclosure import cli
from tests.test_training import DIFFUSION_CASE

#: Small versions of the kinds of case the package runs: a Burgers shock with a library
#: closure and an analytic truth, two coupled tracers (a multi-field state) with
#: reactions, and a 2D periodic tracer.
BASES = {
    "burgers": """
[grid]
domain = [0.0, 1.25]
nx = 24
[boundary]
left = { kind = "dirichlet", value = 0.0 }
right = { kind = "neumann", gradient = 0.0 }
[physics]
model = "burgers"
nu = 0.004
scheme = "upwind"
[truth]
analytic = "advecting_shock"
[initial_condition]
truth = true
[time]
stop = 0.3
output_interval = 0.1
stepper = "ssprk3"
cfl = 0.5
[[closure]]
kind = "library"
terms = ["dx*u_x**2", "u_xx"]
coefficients = [0.01, 0.001]
""",
    "two_tracers": """
format = 2
[grid]
dims = ["z"]
domain = [-50.0, 0.0]
nz = 10
precision = "float64"
[boundary]
bottom = { kind = "flux" }
top = { kind = "flux" }
[physics]
model = "advection_diffusion_reaction"
variables = { A = { units = "mmol m-3" }, B = { units = "mmol m-3" } }
diffusivity = 2.0
parameters = { k = 0.1 }
reactions = { A = "-k*A", B = "k*A" }
[initial_condition.A]
expression = "1 + cos(pi*z/50)"
[initial_condition.B]
expression = "0.2"
[time]
stop = 2.0
output_interval = 0.5
stepper = "ssprk3"
dt = 0.1
""",
    "tracer_2d": """
[grid]
domain = [[0.0, 2.0], [0.0, 2.0]]
nx = 12
ny = 12
[boundary]
kind = "periodic"
[physics]
model = "advection_diffusion"
velocity = ["-sin(pi*x)*cos(pi*y)", "cos(pi*x)*sin(pi*y)"]
diffusivity = 0.001
scheme = "muscl_vanleer"
[initial_condition]
expression = "exp(-((x - 0.5)**2 + (y - 1.0)**2) / 0.02)"
[time]
stop = 0.2
output_interval = 0.1
stepper = "ssprk3"
cfl = 0.5
""",
}

#: A library closure trained on an advected, diffusing sine (the training tests' case, made small and
#: short, without the sparsity path): the base of the [training] fuzz.
TRAINING_BASE = DIFFUSION_CASE.replace("nx = 32", "nx = 16").replace("stop = 2.0", "stop = 1.0").replace(
    "window = 3", "window = 2").replace("batch = 8", "batch = 2").replace("steps = 40", "steps = 3").replace(
    "checkpoint_every = 20", "checkpoint_every = 2").replace("train_times = [0.0, 1.5]", "train_times = [0.0, 0.7]").replace(
    "validation_times = [1.5, 2.0]", "validation_times = [0.7, 1.0]")

CASE_SEEDS = range(42)
TRAINING_SEEDS = range(21)
GARBAGE_STRINGS = ("", "garbage", "x/0", "sin(", "1e999", "u_xxxxxxx", "[1, 2]", "nan", "../../nowhere.nc")


# --- mutations ---------------------------------------------------------------------------

def _leaves(tree, path=()):
    """Every (path, value) of a parsed TOML document, tables and arrays of tables descended."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(tree, list) and tree and all(isinstance(v, dict) for v in tree):
        for i, value in enumerate(tree):
            yield from _leaves(value, (*path, i))
    else:
        yield path, tree


def _parent(tree, path):
    for part in path[:-1]:
        tree = tree[part]
    return tree


def _mutated_value(rng: random.Random, value):
    """A replacement for ``value``: half the time a plausible one of the same type (scaled, which
    reaches the solver and the optimiser), else a wrong, extreme or ill-typed one (which the
    case check must refuse)."""
    plausible = rng.random() < 0.5
    if isinstance(value, bool):
        return (not value) if plausible else rng.choice(["yes", 1, 0.5, [True]])
    if isinstance(value, int):
        if plausible:
            return rng.choice([2 * value, max(1, value // 2), value + 1, 1])
        return rng.choice([0, -1, -value, 1.5, "ten", [value], math.nan])
    if isinstance(value, float):
        if plausible:
            return value * rng.choice([10.0, 0.1, 1e4, 2.0, 0.5])
        return rng.choice([0.0, -value, math.nan, math.inf, -math.inf, 1e30, 1e-30, "fast", [value], True])
    if isinstance(value, str):
        return rng.choice([*GARBAGE_STRINGS, value[:-1], value + "*", 3, [value]])
    if isinstance(value, list):
        if plausible and value and all(isinstance(v, float) for v in value):
            factor = rng.choice([2.0, 0.5, 10.0])
            return [v * factor for v in value]
        return rng.choice([[], value[:1], value + ["garbage"], "garbage", 0, [value]])
    return "garbage"


def mutate_tree(rng: random.Random, tree: dict, within: tuple = ()) -> str:
    """Apply one mutation to ``tree`` (in place) below ``within``; returns what it did."""
    leaves = [(p, v) for p, v in _leaves(tree) if p[:len(within)] == within and len(p) > len(within)]
    path, value = rng.choice(leaves)
    parent, key = _parent(tree, path), path[-1]
    kind = rng.choice(["value", "value", "value", "drop", "unknown"])
    if kind == "drop":
        del parent[key]
    elif kind == "unknown":
        parent[f"{key}_typo" if isinstance(key, str) else "typo"] = value
    else:
        parent[key] = _mutated_value(rng, value)
        return f"{'.'.join(map(str, path))} = {parent[key]!r}"
    return f"{kind} {'.'.join(map(str, path))}"


def mutate_text(rng: random.Random, text: str) -> tuple[str, str]:
    """A textual corruption: a truncated file, a duplicated table, a line mangled."""
    lines = text.splitlines()
    kind = rng.choice(["truncate", "duplicate_table", "mangle"])
    if kind == "truncate":
        cut = rng.randrange(1, len(text))
        return text[:cut], f"truncate at {cut}"
    if kind == "duplicate_table":
        headers = [line for line in lines if line.startswith("[") and not line.startswith("[[")]
        return text + "\n" + rng.choice(headers) + "\n", "duplicate a table"
    i = rng.randrange(len(lines))
    lines[i] = lines[i].replace("=", ":", 1) if "=" in lines[i] else lines[i] + " = ="
    return "\n".join(lines), f"mangle line {i + 1}"


def mutated_case(seed: int) -> tuple[str, str]:
    rng = random.Random(seed)
    name = list(BASES)[seed % len(BASES)]
    text = BASES[name]
    if rng.random() < 0.2:
        text, what = mutate_text(rng, text)
        return text, f"{name}: {what}"
    tree = tomllib.loads(text)
    done = [mutate_tree(rng, tree) for _ in range(rng.choice([1, 1, 2]))]
    return _dump(tree), f"{name}: {'; '.join(done)}"


def mutated_training(seed: int) -> tuple[str, str]:
    rng = random.Random(10_000 + seed)
    tree = tomllib.loads(TRAINING_BASE)
    done = [mutate_tree(rng, tree, ("training",)) for _ in range(rng.choice([1, 1, 2]))]
    return _dump(tree), f"training: {'; '.join(done)}"


def _dump(tree: dict) -> str:
    return tomli_w.dumps(tree)  # nan and inf are TOML floats


# --- the check ---------------------------------------------------------------------------

def _check(capsys, argv, text, what):
    code = cli.main(argv)
    err = capsys.readouterr().err
    context = f"mutation: {what}\nrc {code}\nstderr:\n{err}\ncase.toml:\n{text}"
    assert code != 3, context
    assert "Traceback" not in err, context
    assert "Warning" not in err and "site-packages" not in err, context  # no leaked warnings, no internal paths
    if code != 0:
        assert code in (1, 2), context
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, context
    return code


def _write(tmp_path: Path, text: str) -> Path:
    case = tmp_path / "case"
    case.mkdir(parents=True)
    (case / "case.toml").write_text(text)
    return case


def test_the_mutations_are_seeded_and_varied():
    first = [mutated_case(s) for s in CASE_SEEDS]
    assert first == [mutated_case(s) for s in CASE_SEEDS]
    assert len({what for _, what in first}) >= 0.9 * len(first)  # hardly a seed repeats another's mutation
    assert {what.split(":")[0] for _, what in first} == set(BASES)
    assert len(CASE_SEEDS) >= 40 and len(TRAINING_SEEDS) >= 20


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_a_mutated_case_runs_or_says_why(seed, tmp_path, capsys):
    text, what = mutated_case(seed)
    case = _write(tmp_path, text)
    _check(capsys, ["run", str(case), "--out", str(tmp_path / "run.nc"), "--no-plot", "--no-baseline"],
           text, what)


@pytest.mark.parametrize("seed", TRAINING_SEEDS)
def test_a_mutated_training_table_trains_or_says_why(seed, tmp_path, capsys):
    text, what = mutated_training(seed)
    case = _write(tmp_path, text)
    _check(capsys, ["train", str(case)], text, what)


def test_the_unmutated_bases_succeed(tmp_path, capsys):
    """The fuzz starts from cases that work, so a refusal is the mutation's doing."""
    for name, text in BASES.items():
        case = _write(tmp_path / name, text)
        assert _check(capsys, ["run", str(case), "--out", str(tmp_path / name / "run.nc"), "--no-plot",
                               "--no-baseline"], text, name) == 0
    case = _write(tmp_path / "training", TRAINING_BASE)
    assert _check(capsys, ["train", str(case)], TRAINING_BASE, "training") == 0

