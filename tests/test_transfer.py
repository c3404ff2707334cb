"""Transfer closures conserve their declared total for any parameters, with and without walls."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from oceanclosure.boundaries import BoundaryConditions, Flux
from oceanclosure.closures import (
    ClosureSum,
    LibraryClosure,
    NeuralClosure,
    TransferClosure,
)
from oceanclosure.closures.transfer import edge_label
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusionReaction, Variable
from oceanclosure.models.reactions import ExpressionReactions
from oceanclosure.simulation import Simulation
from tests.columns import column

pytestmark = pytest.mark.usefixtures("x64")

TRACERS = ("N", "P", "Z")
EDGES = (("N", "P"), ("P", "Z"), ("Z", "N"))
LABELS = [edge_label(e) for e in EDGES]
WEIGHTS = {"N": 1.0, "P": 0.7, "Z": 1.3}


def _library_rate(seed: int) -> LibraryClosure:
    terms = ["N*P", "P*Z/(1 + Z)", "Z**2", "N_z**2"]
    coefficients = np.random.default_rng(seed).uniform(-0.05, 0.05, (len(EDGES), len(terms)))
    return LibraryClosure(terms, coefficients, variables=TRACERS, outputs=LABELS)


def _neural_rate(seed: int) -> NeuralClosure:
    net = NeuralClosure(["N", "P", "Z", "N_z"], hidden=(6, 5), variables=TRACERS, outputs=LABELS, seed=seed,
                        activation="tanh")
    _randomise(net, seed)
    return net


def _randomise(module, seed: int) -> None:
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(jax.tree_util.tree_leaves(params)))
    leaves, tree = jax.tree_util.tree_flatten(params)
    noisy = [leaf + 0.5 * jax.random.normal(k, leaf.shape, leaf.dtype) for leaf, k in zip(leaves, keys)]
    nnx.update(module, jax.tree_util.tree_unflatten(tree, noisy))


def _model(walls: bool) -> AdvectionDiffusionReaction:
    grid = Grid.uniform(16, [-50.0, 0.0], dims=("z",))
    bc = (BoundaryConditions.from_sides(dims=("z",), bottom=Flux(), top=Flux()) if walls
          else BoundaryConditions.periodic(1, dims=("z",)))
    # a model reaction that conserves the same total, so the whole run must too
    reactions = ExpressionReactions({"N": "-0.1*N*P/(1 + N)", "P": "0.1*N*P/(1 + N)/0.7"}, TRACERS, ("z",))
    return AdvectionDiffusionReaction(grid, bc, variables=[Variable(n) for n in TRACERS], diffusivity=2.0,
                                      velocity={"Z": (-0.5,)}, reactions=reactions)


def _fields(grid) -> dict:
    (z,) = grid.mesh()
    return {"N": 2.0 + np.cos(2 * np.pi * z / 50), "P": 0.5 + 0.2 * np.sin(2 * np.pi * z / 50),
            "Z": 0.3 + 0.0 * z}


def _total(run) -> np.ndarray:
    return sum(WEIGHTS[n] * run.fields[n].sum(axis=1) for n in TRACERS)


@pytest.mark.parametrize("walls", [True, False], ids=["flux walls", "periodic"])
@pytest.mark.parametrize("rate", [_library_rate, _neural_rate], ids=["library", "neural"])
def test_transfer_conserves_the_weighted_total_over_1000_steps(rate, walls):
    closure = TransferClosure(rate(seed=3), EDGES, weights=WEIGHTS, positive="softplus")
    assert closure.conserves == WEIGHTS
    model = _model(walls)
    sim = Simulation(model, closure, stepper="ssprk3", dt=0.01)
    run = sim.run(_fields(model.grid), stop=10.0, output_interval=2.5)
    assert run.steps == 1000
    total = _total(run)
    np.testing.assert_allclose(total, total[0], rtol=1e-13, atol=0)
    moved = max(np.max(np.abs(run.fields[n][-1] - run.fields[n][0])) for n in TRACERS)
    assert moved > 1e-2  # the closure moved something


def test_signed_rates_conserve_too_and_softplus_makes_them_non_negative():
    grid = _model(True).grid
    fields = _fields(grid)
    signed = TransferClosure(_library_rate(5), EDGES, weights=WEIGHTS, positive=None)
    positive = TransferClosure(_library_rate(5), EDGES, weights=WEIGHTS, positive="softplus")
    raw = signed.rates_on_edges(fields, grid, {})
    assert min(float(np.min(r)) for r in raw.values()) < 0  # the random rates take both signs
    assert min(float(np.min(r)) for r in positive.rates_on_edges(fields, grid, {}).values()) >= 0
    for closure in (signed, positive):
        tendency = closure(fields, (), grid, 0.0, {})[0]
        combination = sum(WEIGHTS[n] * np.asarray(tendency[n]) for n in TRACERS)
        assert np.max(np.abs(combination)) < 1e-14


def test_a_sum_of_closures_with_the_same_declaration_keeps_it():
    a = TransferClosure(_library_rate(1), EDGES, weights=WEIGHTS)
    b = TransferClosure(_neural_rate(2), EDGES, weights=WEIGHTS)
    assert ClosureSum([a, b]).conserves == WEIGHTS
    other = TransferClosure(_library_rate(1), EDGES)
    assert ClosureSum([a, other]).conserves is None


def test_a_constrained_library_declares_its_combination():
    lib = LibraryClosure(["N", "Z**2"], [[0.1, 0.2], [0.3, 0.4]], variables=("N", "P", "Z"),
                         outputs=("N", "P", "Z"), constraints={"N": {"P": -1.0, "Z": -1.0}})
    assert lib.conserves == {"N": 1.0, "P": 1.0, "Z": 1.0}


BAD = {
    "no edges": (dict(edges=[]), "at least one edge"),
    "self loop": (dict(edges=[["N", "N"]]), "two different tracers"),
    "wrong outputs": (dict(edges=[["N", "P"]]), "one output per edge"),
    "zero weight": (dict(edges=EDGES, weights={"N": 0.0}), "non-zero"),
    "unknown weight": (dict(edges=EDGES, weights={"D": 1.0}), "on no edge"),
    "bad positive": (dict(edges=EDGES, positive="relu"), "positive must be one of"),
}


@pytest.mark.parametrize("kwargs, message", BAD.values(), ids=BAD.keys())
def test_bad_transfer_closures_say_what_is_wrong(kwargs, message):
    kwargs = dict(kwargs)
    edges = kwargs.pop("edges")
    with pytest.raises(ValueError, match=message):
        TransferClosure(_library_rate(0), edges, **kwargs)


TRANSFER_CASE = column((-50.0, 0.0), nz=10) + """
[physics]
model = "advection_diffusion_reaction"
variables = { N = { units = "mmol N m-3" }, P = { units = "mmol N m-3" }, Z = { units = "mmol N m-3" } }
diffusivity = 1.0

[initial_condition.N]
expression = "2 + cos(pi*z/50)"
[initial_condition.P]
expression = "0.5"
[initial_condition.Z]
expression = "0.2"

[time]
stop = 5.0
output_interval = 1.0
dt = 0.01

[[closure]]
kind = "transfer"
variables = ["N", "P", "Z"]
edges = [["N", "P"], ["P", "Z"], ["Z", "N"]]
terms = ["N*P", "Z**2"]
coefficients = [[0.05, 0.0], [0.02, 0.01], [0.0, 0.03]]
"""


def test_a_transfer_closure_from_a_case_file_conserves_total_nitrogen(tmp_path):
    import oceanclosure

    (tmp_path / "case.toml").write_text(TRANSFER_CASE)
    ds = oceanclosure.run(oceanclosure.load_case(tmp_path))
    total = sum(ds[n].values.sum(axis=1) for n in TRACERS)
    np.testing.assert_allclose(total, total[0], rtol=1e-13)
    assert ds["Z"].values[-1].mean() != pytest.approx(0.2, abs=1e-3)
    assert ds.attrs["closure"].startswith("TransferClosure(LibraryClosure")


@pytest.mark.parametrize("change, message", [
    ('closure.0.edges=[["N", "D"]]', "'D' is not one of the closure's variables"),
    ('closure.0.outputs=["a"]', "outputs: not allowed"),
    ('closure.0.positive="relu"', "closure[0].positive"),
])
def test_bad_transfer_tables_are_one_clear_message(tmp_path, change, message):
    import oceanclosure

    (tmp_path / "case.toml").write_text(TRANSFER_CASE)
    with pytest.raises(oceanclosure.CaseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        oceanclosure.load_case(tmp_path, [change])
