"""A-posteriori training: it learns, resumes exactly, shards, skips blow-ups, checks gradients."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure.analytic import advected_diffused_sine
from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.closures import DistributedDelayClosure, LibraryClosure
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusion
from oceanclosure.simulation import Simulation
from oceanclosure.training.rollout import Problem, batch_loss, split_closure
from oceanclosure.training.trainer import Settings, Trainer, TrainingError, draw_starts, prune

REPO = Path(__file__).resolve().parents[1]


def _settings(**changes):
    base = dict(window=3, batch=8, steps=60, optimizer="adam", learning_rate=0.01, decay_rate=0.97,
                decay_steps=100, clip_norm=1.0, loss="mse", l1=0.0, l2=0.0, prune_threshold=0.0, seed=0,
                checkpoint_every=20, max_failures=5, ensemble=1)
    base.update(changes)
    return Settings(**base)


def _problem(closure, kappa=0.05, nx=32, dtype=jnp.float32, n_sub=5, history=0):
    """Truth: an advected, diffusing sine (κ = kappa); model: advection with κ = 0."""
    grid = Grid.uniform(nx, [0.0, 2 * np.pi])
    (x,) = grid.mesh()
    times = np.linspace(-0.5, 2.0, 51)
    truth = np.stack([advected_diffused_sine(x, t + 0.5, velocity=1.0, diffusivity=kappa) for t in times])
    model = AdvectionDiffusion(grid, BoundaryConditions.periodic(1), "weno5", velocity=1.0, diffusivity=0.0)
    sim = Simulation(model, closure, stepper="rk4", dt=0.01)
    as_dtype = lambda a: jnp.asarray(a, dtype)  # noqa: E731
    field = lambda a: {"u": as_dtype(a)}  # noqa: E731
    return Problem(sim, field(truth), as_dtype(times), field(truth), field(np.ones_like(truth)), n_sub,
                   history, np.arange(max(history, 10), 45), np.arange(40, 47), "sine")


def test_training_recovers_a_diffusion_coefficient(tmp_path):
    closure = LibraryClosure(["u_xx", "u_x"], trainable=True)
    trainer = Trainer(closure, [_problem(closure)], _settings(steps=120), tmp_path)
    trainer.run()
    table = trainer.member_closure().coefficient_table()["u"]
    assert table["u_xx"] == pytest.approx(0.05, rel=0.05)
    assert abs(table["u_x"]) < 5e-3
    assert trainer.state.log[-1]["loss"] < 1e-3 * trainer.state.log[0]["loss"]
    assert (tmp_path / "training_log.csv").exists() and trainer.checkpoints()


def test_resume_equals_an_uninterrupted_run(tmp_path):
    def fresh(directory):
        closure = LibraryClosure(["u_xx", "u_x"], trainable=True)
        return Trainer(closure, [_problem(closure)], _settings(steps=40, checkpoint_every=20), directory)

    straight = fresh(tmp_path / "a")
    straight.run()
    interrupted = fresh(tmp_path / "b")
    interrupted.settings = _settings(steps=20, checkpoint_every=20)
    interrupted.run()
    resumed = fresh(tmp_path / "b")
    assert resumed.resume() == 20
    resumed.run()
    a = np.asarray(straight.member_closure().coefficients[...])
    b = np.asarray(resumed.member_closure().coefficients[...])
    np.testing.assert_array_equal(a, b)
    assert [r["step"] for r in resumed.state.log] == list(range(1, 41))


def test_draws_are_deterministic_and_per_step():
    closure = LibraryClosure(["u_xx"], trainable=True)
    problems = [_problem(closure)]
    a, b = draw_starts(problems, _settings(), 7), draw_starts(problems, _settings(), 7)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(np.asarray(a[0]), np.asarray(draw_starts(problems, _settings(), 8)[0]))


def test_pruning_zeros_only_small_library_coefficients():
    closure = LibraryClosure(["u", "u_x", "u_xx"], [0.004, -0.2, -0.001], trainable=True)
    _, params, _ = split_closure(closure)
    pruned = jax.tree_util.tree_leaves(prune(params, 5e-3))[0]
    np.testing.assert_array_equal(np.asarray(pruned), np.asarray([[0.0, -0.2, 0.0]], dtype=pruned.dtype))


def test_blow_ups_are_skipped_then_stop_training(tmp_path):
    closure = LibraryClosure(["u_xx"], [-50.0], trainable=True)  # violently anti-diffusive: NaN rollouts
    trainer = Trainer(closure, [_problem(closure)], _settings(steps=30, max_failures=4, checkpoint_every=2), tmp_path)
    with pytest.raises(TrainingError, match="4 consecutive updates"):
        trainer.run()
    assert trainer.state.skipped == 4
    np.testing.assert_array_equal(np.asarray(trainer.member_closure().coefficients[...]), [[-50.0]])


@pytest.mark.usefixtures("x64")
def test_gradient_through_a_delay_rollout_matches_finite_differences():
    def loss(c):
        closure = DistributedDelayClosure(LibraryClosure(["u_xx"], jnp.stack([c])), tau1=0.1)
        problem = _problem(closure, dtype=jnp.float64, history=3)
        return batch_loss(problem, closure, jnp.asarray([12, 20]), window=2, kind="mse")

    grad = float(jax.grad(loss)(0.3))
    eps = 1e-6
    fd = float((loss(0.3 + eps) - loss(0.3 - eps)) / (2 * eps))
    assert grad == pytest.approx(fd, rel=1e-5)
    assert abs(grad) > 0


def test_ensemble_members_train_on_different_draws(tmp_path):
    closure = LibraryClosure(["u_xx", "u_x"], trainable=True)
    trainer = Trainer(closure, [_problem(closure)], _settings(steps=30, ensemble=3), tmp_path)
    trainer.run()
    members = [np.asarray(m.coefficients[...]) for m in trainer.member_closures()]
    assert len(members) == 3
    assert not np.array_equal(members[0], members[1])
    for m in members:
        assert m[0, 0] == pytest.approx(0.05, rel=0.5)


SHARDED = textwrap.dedent(
    """
    import os, sys, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=" + sys.argv[1]
    sys.path.insert(0, sys.argv[2])
    import jax, numpy as np
    from tests.test_training import _problem, _settings
    from oceanclosure.closures import LibraryClosure
    from oceanclosure.training.trainer import Trainer, draw_starts
    import tempfile
    closure = LibraryClosure(["u_xx", "u_x"], trainable=True)
    trainer = Trainer(closure, [_problem(closure)], _settings(steps=5, batch=8), tempfile.mkdtemp())
    starts = draw_starts(trainer.problems, trainer.settings, 0)
    trainer.run()
    print(json.dumps({"devices": len(jax.devices()), "shards": len(starts[0].sharding.device_set),
                      "coefficients": np.asarray(trainer.member_closure().coefficients[...]).tolist()}))
    """
)


def test_sharded_training_step_equals_single_device():
    import json

    def run(devices):
        out = subprocess.run([sys.executable, "-c", SHARDED, str(devices), str(REPO)], capture_output=True,
                             text=True, timeout=600, env={**os.environ, "JAX_PLATFORMS": "cpu"})
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    single, sharded = run(1), run(4)
    assert single["devices"] == 1 and sharded["devices"] == 4 and sharded["shards"] == 4
    np.testing.assert_allclose(sharded["coefficients"], single["coefficients"], rtol=1e-5, atol=1e-7)


# --- case level: CLI, files, reproduction ---------------------------------------

from oceanclosure import cli  # noqa: E402
import oceanclosure  # noqa: E402
import oceanclosure.analysis  # noqa: E402,F401

DIFFUSION_CASE = """
[grid]
domain = [0.0, 6.283185307179586]
nx = 32
[physics]
model = "advection_diffusion"
velocity = 1.0
diffusivity = 0.0
scheme = "weno5"
[truth]
analytic = "advected_diffused_sine"
parameters = { diffusivity = 0.05 }
[initial_condition]
truth = true
[time]
stop = 2.0
output_interval = 0.05
stepper = "rk4"
dt = 0.01
[[closure]]
kind = "library"
terms = ["u_xx", "u_x"]
trainable = true
[training]
window = 3
batch = 8
steps = 40
optimizer = "adam"
learning_rate = 0.01
loss = "mse"
checkpoint_every = 20
train_times = [0.0, 1.5]
validation_times = [1.5, 2.0]
"""


def _diffusion_case(tmp_path):
    directory = tmp_path / "diffusion"
    directory.mkdir()
    (directory / "case.toml").write_text(DIFFUSION_CASE)
    return directory


def test_cli_train_resume_discover_and_refusals(tmp_path, capsys):
    case_dir = _diffusion_case(tmp_path)
    assert cli.main(["train", str(case_dir), "--steps", "20"]) == 0
    assert (case_dir / "truth" / "truth.nc").exists() and (case_dir / "training_log.csv").exists()
    assert cli.main(["train", str(case_dir)]) == cli.EXIT_BAD_INPUT  # checkpoints exist
    assert "--resume" in capsys.readouterr().err
    assert cli.main(["train", str(case_dir), "--resume"]) == 0  # continues to training.steps = 40
    capsys.readouterr()
    assert cli.main(["discover", str(case_dir), "--json"]) == 0
    result = __import__("json").loads(capsys.readouterr().out)
    assert {"terms", "path", "nonmarkovian", "selected"} <= set(result) and set(result["terms"]["u"]) == {"u_xx", "u_x"}
    resumed = result["terms"]["u"]["u_xx"]["final"]
    straight_dir = tmp_path / "straight"
    straight_dir.mkdir()
    (straight_dir / "case.toml").write_text(DIFFUSION_CASE)
    assert cli.main(["train", str(straight_dir)]) == 0
    capsys.readouterr()
    cli.main(["discover", str(straight_dir), "--json"])
    assert __import__("json").loads(capsys.readouterr().out)["terms"]["u"]["u_xx"]["final"] == resumed
    # The trained parameters are used by `run`, which also stores the no-closure baseline.
    capsys.readouterr()
    assert cli.main(["run", str(case_dir), "--no-plot"]) == 0
    assert "with the closure / without" in capsys.readouterr().out
    ds = oceanclosure.analysis.open_run(case_dir / "output" / "run.nc")
    err = lambda name: float(np.sqrt(((ds[name] - ds["u_truth"]) ** 2).mean()))  # noqa: E731
    assert err("u") < 0.5 * err("u_baseline")
    base = oceanclosure.run(oceanclosure.load_case(case_dir), closure=oceanclosure.NoClosure())
    np.testing.assert_array_equal(base["u"].values, ds["u_baseline"].values)


def test_training_bad_input(tmp_path, capsys):
    case_dir = _diffusion_case(tmp_path)
    code = cli.main(["train", str(case_dir), "--set", "training.window=200"])
    assert code == cli.EXIT_BAD_INPUT and "training.window" in capsys.readouterr().err
    code = cli.main(["train", str(case_dir), "--resume", "--overwrite"])
    assert code == cli.EXIT_BAD_INPUT
    assert cli.main(["discover", str(case_dir)]) == cli.EXIT_BAD_INPUT
    assert "train the case first" in capsys.readouterr().err
    no_training = DIFFUSION_CASE.split("[training]")[0]
    (case_dir / "case.toml").write_text(no_training)
    assert cli.main(["train", str(case_dir)]) == cli.EXIT_BAD_INPUT
    assert "no [training] section" in capsys.readouterr().err


def test_checkpoint_of_another_spec_is_refused(tmp_path, capsys):
    case_dir = _diffusion_case(tmp_path)
    assert cli.main(["train", str(case_dir), "--steps", "20"]) == 0
    text = (case_dir / "case.toml").read_text().replace('terms = ["u_xx", "u_x"]', 'terms = ["u_xx", "u_x", "u"]')
    (case_dir / "case.toml").write_text(text)
    capsys.readouterr()
    assert cli.main(["train", str(case_dir), "--resume"]) == cli.EXIT_BAD_INPUT
    assert "does not match" in capsys.readouterr().err
    assert cli.main(["run", str(case_dir), "--no-plot"]) == cli.EXIT_BAD_INPUT  # trained for other tables
    assert "other [[closure]] tables" in capsys.readouterr().err
    assert cli.main(["run", str(case_dir), "--no-plot", "--closure", "none", "--overwrite"]) == 0


def test_kdv_two_soliton_recovers_the_missing_physics(tmp_path):
    """docs/reference_problems.md §2: -u_xxx - 5 u u_x within 2%, u_xx and u^2 u_x pruned (~35 s on 2 cores)."""
    from oceanclosure.training.api import train

    case_dir = __import__("shutil").copytree(REPO / "cases" / "kdv_two_soliton", tmp_path / "kdv",
                                             ignore=__import__("shutil").ignore_patterns("output", "truth", "closure",
                                                                                         "checkpoints"))
    summary = train(oceanclosure.load_case(case_dir))
    terms = summary["terms"]["u"]
    assert terms["u_xxx"] == pytest.approx(-1.0, rel=0.02)
    assert terms["u*u_x"] == pytest.approx(-5.0, rel=0.02)
    assert terms["u_xx"] == 0.0 and terms["u**2*u_x"] == 0.0
    ds = oceanclosure.run(oceanclosure.load_case(case_dir))
    assert float(np.sqrt(((ds["u"] - ds["u_truth"]) ** 2).mean("x")).mean()) < 0.0067  # the reference's error


def test_cli_ensemble_reports_the_spread(tmp_path, capsys):
    case_dir = _diffusion_case(tmp_path)
    assert cli.main(["train", str(case_dir), "--steps", "10", "--ensemble", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 members" in out and "±" in out
    assert cli.main(["discover", str(case_dir), "--json"]) == 0
    result = __import__("json").loads(capsys.readouterr().out)
    stats = result["terms"]["u"]["u_xx"]
    assert result["members"] == 3 and stats["inclusion"] == 1.0
    assert stats["low"] < stats["high"] and stats["low"] <= stats["mean"] <= stats["high"]


def test_library_terms_without_dx_are_noted_when_training_spans_several_grids(tmp_path):
    from oceanclosure.training.setup import resolution_notes

    text = """
[grid]
domain = [0.0, 6.283185307179586]
nx = 32
[physics]
model = "burgers"
nu = 0.01
[initial_condition]
expression = "sin(x)"
[truth]
fine = { refine = 4 }
[time]
stop = 0.5
output_interval = 0.1
[[closure]]
kind = "library"
terms = ["u_xx", "dx**2*u_x*u_xx"]
trainable = true
[training]
configurations = [["grid.nx=32"], ["grid.nx=64"]]
"""
    (tmp_path / "case.toml").write_text(text)
    notes = resolution_notes(oceanclosure.load_case(tmp_path))
    assert len(notes) == 1 and "'u_xx' has no dx factor" in notes[0] and "2 grids" in notes[0]
    (tmp_path / "case.toml").write_text(text.replace('[["grid.nx=32"], ["grid.nx=64"]]', '[["grid.nx=32"]]'))
    assert resolution_notes(oceanclosure.load_case(tmp_path)) == []
