"""Training that fails, or is resumed, says so: blow-ups are taken back and retried, a diverged training
writes nothing and exits 1, corrupt files give one message and rc 2, a changed recipe is refused."""

import csv
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure import cli, io
from oceanclosure.closures import LibraryClosure
from oceanclosure.training.trainer import Trainer, TrainingError, draw_starts
from tests.test_training import DIFFUSION_CASE, _problem, _settings

#: A smaller, faster variant of the diffusion case (no sparsity path after the steps).
SMALL_CASE = DIFFUSION_CASE.replace("nx = 32", "nx = 16").replace("batch = 8", "batch = 4").replace(
    "window = 3", "window = 2").replace("steps = 40", "steps = 20").replace(
    "checkpoint_every = 20", 'checkpoint_every = 7\nselection = "none"')


def _case(tmp_path: Path, name: str = "case", text: str = SMALL_CASE) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "case.toml").write_text(text)
    return directory


def _arrays(case_dir: Path) -> dict:
    with np.load(case_dir / "closure" / "parameters.npz") as data:
        return {key: data[key] for key in data.files}


def _assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert np.array_equal(value, b[key]), key


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error")]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


# --- the loop: a blown-up update is taken back --------------------------------


class _Spy:
    """Wraps a trainer's jitted step, records each call, and reports the calls in ``fail`` as non-finite."""

    def __init__(self, trainer: Trainer, fail=()):
        self.real, self.fail, self.calls = trainer._step, set(fail), []
        trainer._step = self

    def __call__(self, params, opt_state, starts, bags, scale):
        out = self.real(params, opt_state, starts, bags, scale)
        self.calls.append({"params": _leaves(params), "starts": np.asarray(starts[0]), "scale": float(scale),
                           "out": _leaves(out[0]), "args": (params, opt_state, starts, bags)})
        return (*out[:3], jnp.asarray(False)) if len(self.calls) in self.fail else out


def _trainer(directory, **settings) -> Trainer:
    closure = LibraryClosure(["u_xx", "u_x"], trainable=True)
    return Trainer(closure, [_problem(closure)], _settings(**settings), directory)


def test_a_blown_up_update_is_taken_back_and_retried_on_another_batch_at_a_lower_rate(tmp_path):
    trainer = _trainer(tmp_path, steps=4, checkpoint_every=100)
    spy = _Spy(trainer, fail={3})  # the loss at the parameters after update 2 is not finite
    trainer.run()
    calls = spy.calls
    assert [c["scale"] for c in calls] == [1.0, 1.0, 1.0, 0.5, 0.5, 1.0]
    for a, b in zip(calls[3]["params"], calls[1]["params"]):  # back to the parameters before update 2
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(calls[3]["starts"], calls[1]["starts"])  # another batch ...
    retry = draw_starts(trainer.problems, trainer.settings, 1, attempt=1)[0]
    np.testing.assert_array_equal(calls[3]["starts"], np.asarray(retry))  # ... from its own seeded stream
    full = spy.real(*calls[3]["args"], jnp.float32(1.0))[0]
    for half, whole, start in zip(calls[3]["out"], _leaves(full), calls[3]["params"]):  # half the step
        np.testing.assert_allclose(half - start, 0.5 * (whole - start), rtol=1e-5, atol=1e-9)
    assert (trainer.state.step, trainer.state.skipped, trainer.state.failures) == (4, 1, 0)
    log = trainer.state.log
    assert [(r["step"], r["finite"]) for r in log] == [(1, True), (2, True), (3, False), (2, True), (3, True), (4, True)]
    assert log[3]["learning_rate"] == pytest.approx(0.5 * float(trainer.schedule(1)))


def test_a_checkpoint_keeps_what_going_back_needs_so_resume_is_bit_identical(tmp_path):
    """The failure right after a checkpoint goes back before it, resumed or not."""
    straight = _trainer(tmp_path / "a", steps=4, checkpoint_every=2)
    _Spy(straight, fail={3})
    straight.run()
    first = _trainer(tmp_path / "b", steps=2, checkpoint_every=2)
    first.run()
    resumed = _trainer(tmp_path / "b", steps=4, checkpoint_every=2)
    assert resumed.resume() == 2
    spy = _Spy(resumed, fail={1})  # the same attempt: the first after the checkpoint
    resumed.run()
    assert spy.calls[1]["scale"] == 0.5 and resumed.state.skipped == 1
    for a, b in zip(_leaves(straight.state.params), _leaves(resumed.state.params)):
        np.testing.assert_array_equal(a, b)
    assert [r["step"] for r in resumed.state.log] == [r["step"] for r in straight.state.log]


def test_consecutive_blow_ups_stop_and_say_that_no_checkpoint_was_written(tmp_path):
    closure = LibraryClosure(["u_xx"], [-50.0], trainable=True)  # NaN rollouts from the start
    trainer = Trainer(closure, [_problem(closure)], _settings(steps=30, max_failures=3, checkpoint_every=2), tmp_path)
    with pytest.raises(TrainingError, match="3 consecutive updates at step 1 .*no checkpoint was written"):
        trainer.run()
    assert not (tmp_path / "checkpoints").exists()


# --- the case level: diverged, corrupt, changed --------------------------------


def test_a_diverged_training_writes_no_parameters_and_overwrite_leaves_none_stale(tmp_path, capsys):
    case_dir = _case(tmp_path)
    assert cli.main(["train", str(case_dir), "--steps", "7"]) == 0
    assert (case_dir / "closure" / "parameters.npz").exists()
    capsys.readouterr()
    # One update at a huge learning rate: the parameters are finite, the rollout from them is not.
    code = cli.main(["train", str(case_dir), "--overwrite", "--steps", "1", "--set", "training.learning_rate=1e6"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_RUN_FAILED
    assert "validation loss after step 1 is nan" in err and "no parameters were written" in err
    assert "--overwrite: removed" in err and "parameters.npz" in err
    assert not (case_dir / "closure" / "parameters.npz").exists()
    assert not (case_dir / "closure" / "parameters.json").exists()


def test_blow_ups_at_every_retry_stop_naming_the_last_checkpoint(tmp_path, capsys):
    case_dir = _case(tmp_path)
    code = cli.main(["train", str(case_dir), "--set", "training.learning_rate=1e6", "--set", "training.max_failures=3",
                     "--set", "training.checkpoint_every=1"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_RUN_FAILED
    assert "3 consecutive updates at step 2" in err
    assert f"the last checkpoint, step 1, is kept in {case_dir / 'checkpoints'}" in err
    assert (case_dir / "checkpoints" / "1").is_dir()
    assert not (case_dir / "closure" / "parameters.npz").exists()
    with open(case_dir / "training_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # Each blow-up at step 2 goes back to step 1 and retries it at half the rate of the attempt before.
    assert [(r["step"], r["finite"]) for r in rows] == [("1", "True"), ("2", "False")] * 3
    rates = [float(r["learning_rate"]) for r in rows]
    assert rates == pytest.approx([1e6, 1e6, 5e5, 5e5, 2.5e5, 2.5e5], rel=1e-3)  # the schedule decays slowly


def test_corrupt_parameters_give_one_message_and_rc_2(tmp_path, capsys):
    case_dir = _case(tmp_path)
    assert cli.main(["train", str(case_dir), "--steps", "7"]) == 0
    _truncate(case_dir / "closure" / "parameters.npz")
    capsys.readouterr()
    for argv in (["run", str(case_dir), "--no-plot"], ["discover", str(case_dir)]):
        assert cli.main(argv) == cli.EXIT_BAD_INPUT
        errors = _errors(capsys.readouterr().err)
        assert len(errors) == 1 and "parameters.npz are unreadable or corrupt" in errors[0], errors
        assert "--overwrite" in errors[0] and "bug" not in errors[0]
    # --resume with no checkpoint left but trained parameters: nothing to continue.
    __import__("shutil").rmtree(case_dir / "checkpoints")
    assert cli.main(["train", str(case_dir), "--resume"]) == cli.EXIT_BAD_INPUT
    assert "--overwrite to retrain" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_corrupt_restart_state_is_a_checkpoint_error(tmp_path, damage):
    path = io.save_state({"u": np.arange(4.0)}, tmp_path / "state.npz")
    if damage == "truncate":
        _truncate(path)
    else:
        path.write_bytes(b"PK\x03\x04 not a zip file at all")
    with pytest.raises(io.CheckpointError, match="unreadable or corrupt"):
        io.load_state(path, like={"u": np.zeros(4)})
    with pytest.raises(io.CheckpointError, match="unreadable or corrupt"):
        io.read_state_metadata(path)


def test_resume_refuses_a_changed_recipe_unless_asked(tmp_path, capsys):
    case_dir = _case(tmp_path)
    # --resume before any checkpoint was written starts from step 0, and says so.
    assert cli.main(["train", str(case_dir), "--resume", "--steps", "7"]) == 0
    assert "no checkpoint was written" in capsys.readouterr().err
    changed = ["--set", "training.learning_rate=0.02", "--set", "training.l2=1e-6"]
    assert cli.main(["train", str(case_dir), "--resume", *changed]) == cli.EXIT_BAD_INPUT
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "training.l2 (checkpoint 0.0, now 1e-06)" in errors[0]
    assert "training.learning_rate (checkpoint 0.01, now 0.02)" in errors[0] and "--accept-changes" in errors[0]
    assert "training.steps" not in errors[0]  # steps may grow: that is how one trains longer
    assert cli.main(["train", str(case_dir), "--accept-changes", *changed]) == cli.EXIT_BAD_INPUT
    assert "goes with --resume" in capsys.readouterr().err
    assert cli.main(["train", str(case_dir), "--resume", "--accept-changes", *changed]) == 0
    assert "--accept-changes: continuing checkpoint step 7" in capsys.readouterr().err
    manifest = json.loads((case_dir / "closure" / "parameters.json").read_text())
    assert manifest["training"]["learning_rate"] == 0.02


def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    case_dir = _case(tmp_path)
    assert cli.main(["train", str(case_dir)]) == 0  # 20 steps, checkpoints every 7: 14 and 20 are kept
    straight = _arrays(case_dir)
    checkpoints = case_dir / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["14", "20"]
    for path in (checkpoints / "20").rglob("*"):
        if path.is_file():
            _truncate(path)
    capsys.readouterr()
    assert cli.main(["train", str(case_dir), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "checkpoint step 20" in err and "cannot be read" in err and "resuming from step 14" in err
    _assert_identical(_arrays(case_dir), straight)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["14", "20", "20.unreadable"]
    for step in ("14", "20"):
        (checkpoints / step / "meta" / "metadata").write_text("{")
    assert cli.main(["train", str(case_dir), "--resume"]) == cli.EXIT_BAD_INPUT
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "no checkpoint in" in errors[0] and "step 20:" in errors[0] and "step 14:" in errors[0]


def test_old_npz_checkpoints_are_refused_with_the_fix(tmp_path, capsys):
    case_dir = _case(tmp_path)
    (case_dir / "checkpoints").mkdir()
    (case_dir / "checkpoints" / "step_00000020.npz").write_bytes(b"an old checkpoint")
    assert cli.main(["train", str(case_dir)]) == cli.EXIT_BAD_INPUT
    assert "already holds checkpoints" in capsys.readouterr().err
    assert cli.main(["train", str(case_dir), "--resume"]) == cli.EXIT_BAD_INPUT
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "older oceanclosure" in errors[0] and "--overwrite" in errors[0]


def test_the_continue_command_keeps_the_options_that_made_the_training():
    """A --resume without the --set/--steps/--ensemble of the stopped run would be refused as another recipe."""
    import argparse
    import shlex

    from oceanclosure.cli_training import train_resume_command

    args = argparse.Namespace(case=Path("my case"), overrides=["training.learning_rate=0.02", "grid.nx=32"],
                              steps=100, ensemble=4, accept_changes=False)
    words = shlex.split(train_resume_command(args))
    assert words == ["oceanclosure", "train", "my case", "--set", "training.learning_rate=0.02", "--set",
                     "grid.nx=32", "--steps", "100", "--ensemble", "4", "--resume"]
    parsed = cli._parser().parse_args(words[1:])
    assert (parsed.overrides, parsed.steps, parsed.ensemble, parsed.resume) == (args.overrides, 100, 4, True)


def test_an_interrupt_after_going_back_past_a_checkpoint_resumes_from_where_it_went_back(tmp_path):
    """Checkpoint 2 is saved, the next update blows up and the state goes back to step 1, then SIGINT:
    the checkpoint saved at the stop (step 1) must be the one --resume takes, not the older step 2."""
    import os
    import signal

    from oceanclosure.training.trainer import TrainingInterrupted

    straight = _trainer(tmp_path / "a", steps=5, checkpoint_every=2)
    _Spy(straight, fail={3})
    straight.run()

    stopped = _trainer(tmp_path / "b", steps=5, checkpoint_every=2)
    _Spy(stopped, fail={3})
    attempts = []

    def interrupt_after_the_failure(step, loss, validation):
        attempts.append(step)
        if len(attempts) == 3:  # the failed attempt at step 3
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted) as err:
        stopped.run(progress=interrupt_after_the_failure)
    assert err.value.step == 1 and stopped.checkpoint_steps() == [1]

    resumed = _trainer(tmp_path / "b", steps=5, checkpoint_every=2)
    assert resumed.resume() == 1
    resumed.run()
    for a, b in zip(_leaves(straight.state.params), _leaves(resumed.state.params)):
        np.testing.assert_array_equal(a, b)
    assert resumed.state.skipped == straight.state.skipped == 1
    assert [(r["step"], r["finite"]) for r in resumed.state.log] == \
        [(r["step"], r["finite"]) for r in straight.state.log]


def test_a_finite_but_diverged_validation_loss_is_warned_about():
    """The issue's u_xxxx case recovered from its blow-ups and then trained to a validation loss of ~4e22."""
    from oceanclosure.training.api import _first_validation, _growth_warnings

    (warning,) = _growth_warnings(1e-3, 4e22)
    assert "grew from 0.001" in warning and "4e+22" in warning and "--overwrite" in warning
    assert _growth_warnings(1e-3, 0.05) == []  # worse, but within the factor: noise of a short training
    assert _growth_warnings(1e-3, 2e-4) == [] and _growth_warnings(float("nan"), 1.0) == []
    log = [{"validation": float("nan")}, {"validation": 0.3}, {"validation": 0.1}]
    assert _first_validation(log) == 0.3
