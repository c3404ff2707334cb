"""Sparse discovery: scales, refits, effective sample size, criteria, the path, bagging, ensembles."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure.closures import LibraryClosure
from oceanclosure.closures.base import ClosureSum
from oceanclosure.training.discovery import discover_members, perturb_members
from oceanclosure.training.rollout import split_closure
from oceanclosure.training.selection import (
    Coefficients,
    Discovery,
    contributions,
    criterion,
    effective_size,
    term_scales,
)
from oceanclosure.training.trainer import Trainer, member_bags, member_pools
from tests.test_training import _problem, _settings


def test_coefficients_round_trip_through_a_closure_sum():
    closure = ClosureSum([LibraryClosure(["u_xx", "u"], [0.1, 0.2], trainable=True),
                          LibraryClosure(["u_x"], [0.3], trainable=True),
                          LibraryClosure(["u_xxx"], [0.4], trainable=False)])  # fixed: not selected
    coefficients = Coefficients.of(closure)
    assert coefficients.names == (("u", "u_xx"), ("u", "u"), ("u", "u_x"))
    _, params, _ = split_closure(closure)
    np.testing.assert_allclose(coefficients.get(params), [0.1, 0.2, 0.3], rtol=1e-6)
    moved = coefficients.put(params, jnp.asarray([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(coefficients.get(moved), [1.0, 2.0, 3.0])


def test_effective_size_counts_white_noise_fully_and_smooth_error_as_few():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((16, 3, 200))
    assert effective_size([noise]) == pytest.approx(noise.size, rel=0.15)
    x = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    smooth = np.broadcast_to(np.sin(x), (16, 3, 200)) * np.linspace(1, 2, 16)[:, None, None]
    assert effective_size([smooth]) < 0.01 * smooth.size
    assert effective_size([np.zeros((4, 3, 5))]) == 4 * 3 * 5  # no correlation to remove


def test_criteria_match_their_formulas():
    assert criterion("aic", 1e-4, 100.0, 3) == pytest.approx(100 * math.log(1e-4) + 6)
    assert criterion("bic", 1e-4, 100.0, 3) == pytest.approx(100 * math.log(1e-4) + 3 * math.log(100))


def test_fits_below_round_off_tie_and_the_fewest_terms_win():
    """Two exact fits (MSE 1e-21 and 3e-20, both far below float32 round-off) are equally good: the
    criterion then prefers the smaller model, where the raw MSEs would have bought three terms."""
    from oceanclosure.training.selection import MSE_FLOOR

    assert MSE_FLOOR == pytest.approx(np.finfo(np.float32).eps ** 2)
    one, four = criterion("bic", 3e-20, 12.0, 1), criterion("bic", 1e-21, 12.0, 4)
    assert one < four
    assert 12 * math.log(3e-20) + math.log(12) > 12 * math.log(1e-21) + 4 * math.log(12)  # unfloored: four wins
    # above the floor nothing changes
    assert criterion("bic", 1e-6, 12.0, 2) == pytest.approx(12 * math.log(1e-6) + 2 * math.log(12))


def test_contributions_do_not_depend_on_units():
    """r = |c| RMS(T)/RMS(u_t) is dimensionless: scaling u by 1000 (other units) leaves it unchanged."""
    closure = LibraryClosure(["u_xx", "u_x"], trainable=True)
    plain, scaled = _problem(closure), _problem(closure)
    scaled = type(plain)(**{**plain.__dict__, "truth": {"u": plain.truth["u"] * 1000.0}})
    theta = np.array([0.05, 0.01])
    coefficients = Coefficients.of(closure)
    r_plain = contributions(theta, term_scales([plain], coefficients))
    r_scaled = contributions(theta, term_scales([scaled], coefficients))
    np.testing.assert_allclose(r_scaled, r_plain, rtol=1e-5)
    assert r_plain[0] > r_plain[1] > 0


def _two_modes(closure, noise=0.01):
    """Truth: sin(x - t) + 0.5 sin(3(x - t)), each mode decaying at κ = 0.05; observed with noise.

    Two modes, so that u_xx is not a multiple of u; 1% noise, the regime the criterion is built for.
    """
    from oceanclosure.analytic import advected_diffused_sine

    problem = _problem(closure)
    (x,) = problem.sim.grid.mesh()
    times = np.asarray(problem.times) + 0.5
    truth = np.stack([advected_diffused_sine(x, t, velocity=1.0, diffusivity=0.05)
                      + advected_diffused_sine(x, t, velocity=1.0, diffusivity=0.05, amplitude=0.5, wavenumber=3)
                      for t in times])
    observed = truth + noise * truth.std() * np.random.default_rng(3).standard_normal(truth.shape)
    as_field = lambda a: {"u": jnp.asarray(a, jnp.float32)}  # noqa: E731
    return type(problem)(**{**problem.__dict__, "truth": as_field(truth), "targets": as_field(observed),
                            "selection_starts": np.arange(30, 45)})


def _trained(tmp_path, terms, steps=60, **changes):
    closure = LibraryClosure(terms, trainable=True)
    problem = _two_modes(closure)
    trainer = Trainer(closure, [problem], _settings(steps=steps, **changes), tmp_path)
    perturb_members(trainer)
    trainer.run()
    return trainer


def test_the_path_keeps_diffusion_and_drops_the_rest(tmp_path):
    """Truth: two advected modes diffusing at κ = 0.05, observed with 1% noise; the model lacks κ."""
    trainer = _trained(tmp_path, ["u_xx", "u_x", "u"])
    found = discover_members(trainer)
    path = found.paths[0]
    assert [int(p.active.sum()) for p in path.points] == sorted({int(p.active.sum()) for p in path.points},
                                                                reverse=True)  # one model per size, shrinking
    assert path.points[-1].active.sum() == 0
    chosen = path.chosen
    assert list(chosen.active) == [True, False, False]
    assert chosen.theta[0] == pytest.approx(0.05, rel=0.05)  # 1% noise on 64 windows: a few % of scatter
    assert found.final_theta[1] == 0.0 and found.final_theta[2] == 0.0
    # the refit went further than the optimizer: the refitted full model fits better than the trained one
    full = Discovery([trainer.problems[0]], trainer.graphdef, trainer.state.params, trainer.rest, trainer.settings)
    trained_theta = full.coefficients.get(trainer.state.params)
    assert path.points[0].train_mse < full.train.mse(trained_theta)


def test_bagging_is_deterministic_and_differs_between_members():
    closure = LibraryClosure(["u_xx"], trainable=True)
    problems = [_problem(closure)]
    settings = _settings(ensemble=3)
    bags, again = member_bags(problems, settings), member_bags(problems, settings)
    weights = np.asarray(bags[0]["u"])
    np.testing.assert_array_equal(weights, np.asarray(again[0]["u"]))
    assert weights.shape == (3, *problems[0].weights["u"].shape)
    assert abs(weights.mean() - 1.0) < 0.05 and not np.array_equal(weights[0], weights[1])
    pools = member_pools(problems, settings)
    assert all(set(p[0]) <= set(problems[0].train_starts) for p in pools)
    assert not np.array_equal(pools[0][0], pools[1][0])
    assert member_bags(problems, _settings()) == ()


def test_an_ensemble_reports_inclusion_and_intervals(tmp_path):
    trainer = _trained(tmp_path, ["u_xx", "u_x", "u"], ensemble=4)
    members = [np.asarray(m.coefficients[...]) for m in trainer.member_closures()]
    assert not np.array_equal(members[0], members[1])  # own initial weights and data
    found = discover_members(trainer)
    report = found.report()["terms"]["u"]
    assert report["u_xx"]["inclusion"] == 1.0
    assert report["u_xx"]["low"] <= report["u_xx"]["mean"] <= report["u_xx"]["high"]
    assert report["u_xx"]["low"] < report["u_xx"]["high"]  # bagged members differ
    assert report["u_xx"]["final"] == pytest.approx(0.05, rel=0.05)
    for term in ("u_x", "u"):
        assert report[term]["inclusion"] <= 0.25 and report[term]["final"] == 0.0


def test_windows_count_observed_snapshots(tmp_path):
    """With every 10th snapshot observed, a window of 3 spans 30 intervals and starts where data are."""
    import oceanclosure
    from oceanclosure.cases import CaseError, check_training
    from oceanclosure.training.setup import build_problems
    from tests.test_training import DIFFUSION_CASE

    (tmp_path / "case.toml").write_text(DIFFUSION_CASE + "\n[observations]\nevery = 5\n")
    case = oceanclosure.load_case(tmp_path)
    closure = LibraryClosure(["u_xx", "u_x"], trainable=True)
    (problem,) = build_problems(case, closure)
    assert problem.stride == 5 and problem.intervals(3) == 15
    assert len(problem.train_starts) and np.all(problem.train_starts % 5 == 0)
    assert np.all(problem.train_starts + 15 <= 30)  # train_times end at t = 1.5, snapshot 30
    with pytest.raises(CaseError, match="50 output intervals"):
        check_training(case.with_overrides(["training.window=10"]))


@pytest.mark.usefixtures("x64")
def test_the_refit_jacobian_matches_finite_differences():
    from oceanclosure.training.selection import Functions, Misfits

    closure = LibraryClosure(["u_xx", "u*u_x"], [0.01, 0.02], trainable=True)
    problem = _problem(closure, dtype=jnp.float64)
    graphdef, params, rest = split_closure(closure)
    misfits = Misfits(Functions([problem], graphdef, rest, Coefficients.of(closure), 2), params, [np.array([12, 20])])
    theta = np.array([0.03, -0.01])
    jac = np.asarray(misfits.jacobian(jnp.asarray(theta), [None]))
    eps = 1e-6
    for k in range(2):
        step = np.zeros(2)
        step[k] = eps
        fd = (np.asarray(misfits.vector(jnp.asarray(theta + step), [None]))
              - np.asarray(misfits.vector(jnp.asarray(theta - step), [None]))) / (2 * eps)
        np.testing.assert_allclose(jac[:, k], fd, rtol=1e-5, atol=1e-9 * np.abs(fd).max())
        assert np.abs(fd).max() > 0


def test_non_markovian_parts_are_named():
    import oceanclosure
    from oceanclosure.factory import build_closures
    from oceanclosure.training.api import nonmarkovian_parts

    root = __import__("pathlib").Path(__file__).resolve().parents[1] / "cases"
    case = oceanclosure.load_case(root / "distributed_delay_decay")
    (part,) = nonmarkovian_parts(case, build_closures(case, trained=False))
    assert part == {"kind": "distributed_delay", "inputs": ["u"], "delay": [0.0, 1.0], "size": 0, "network": False}
    shock = oceanclosure.load_case(root / "burgers_advecting_shock")
    parts = nonmarkovian_parts(shock, build_closures(shock))
    assert [p["kind"] for p in parts] == ["distributed_delay"] and parts[0]["network"] and parts[0]["size"] > 100


def test_cli_discover_prints_the_path_and_exports_code(tmp_path, capsys):
    import importlib.util

    from oceanclosure import cli
    from tests.test_training import DIFFUSION_CASE

    (tmp_path / "case.toml").write_text(DIFFUSION_CASE)
    assert cli.main(["train", str(tmp_path), "--steps", "20"]) == 0
    assert "selected" in capsys.readouterr().out
    assert cli.main(["discover", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "path (bic" in out and "*" in out and "inclusion" in out
    target = tmp_path / "closure_code.py"
    assert cli.main(["discover", str(tmp_path), "--export", "numpy", "--out", str(target)]) == 0
    spec = importlib.util.spec_from_file_location("closure_code", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "u" in module.FEATURES
    assert cli.main(["discover", str(tmp_path), "--export", "numpy", "--out", str(target)]) == cli.EXIT_BAD_INPUT
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["discover", str(tmp_path), "--out", str(target)]) == cli.EXIT_BAD_INPUT
    assert "--export" in capsys.readouterr().err


def test_selection_times_too_short_for_a_window_are_refused(tmp_path):
    import oceanclosure
    from oceanclosure.training.setup import SetupError, build_problems
    from tests.test_training import DIFFUSION_CASE

    (tmp_path / "case.toml").write_text(DIFFUSION_CASE.replace("[training]", "[training]\nselection_times = [1.4, 1.5]"))
    with pytest.raises(SetupError, match="selection_times .* holds no window"):
        build_problems(oceanclosure.load_case(tmp_path), LibraryClosure(["u_xx"], trainable=True))


def test_the_refit_stops_at_a_non_finite_jacobian_and_keeps_the_last_finite_point():
    """A path point whose linearisation blows up ends the refit where it stands (no bare SVD error)."""
    from oceanclosure.training.selection import refit

    class Broken:
        calls = 0

        def _no_bags(self):
            return [None]

        def vector(self, theta, bags):
            return np.asarray(theta) - 1.0

        def jacobian(self, theta, bags):
            self.calls += 1
            return np.full((2, 2), np.nan)

    misfits = Broken()
    theta, cost = refit(misfits, np.array([0.5, 0.25]), np.array([True, True]), iterations=5)
    np.testing.assert_array_equal(theta, [0.5, 0.25])
    assert cost == pytest.approx(0.25 + 0.5625) and misfits.calls == 1


def test_the_refit_still_converges_on_a_finite_problem():
    from oceanclosure.training.selection import refit

    class Linear:
        def _no_bags(self):
            return [None]

        def vector(self, theta, bags):
            return np.asarray(theta) - np.array([1.0, -2.0])

        def jacobian(self, theta, bags):
            return np.eye(2)

    theta, cost = refit(Linear(), np.array([0.0, 0.0]), np.array([True, True]), iterations=20)
    np.testing.assert_allclose(theta, [1.0, -2.0], atol=1e-6)
    assert cost < 1e-10
