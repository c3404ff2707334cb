"""Observations and training settings: the schema, observation operators, observation files."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import xarray as xr

from oceanclosure.cases import CaseError, ObservationsConfig, TrainingConfig, check_training, load_case
from oceanclosure.grid import Grid
from oceanclosure.io import make_dataset
from oceanclosure.training.observations import (
    ObservationError,
    Observations,
    case_observations,
    observe,
    read_observation_file,
)

BASE = {
    "grid": {"domain": [0.0, 1.0], "nx": 10},
    "physics": {"model": "burgers", "nu": 0.01},
    "initial_condition": {"expression": "sin(2*pi*x)"},
    "time": {"stop": 1.0, "output_interval": 0.1},
}
BASE_2D = {
    "grid": {"domain": [[0.0, 1.0], [0.0, 2.0]], "nx": 6, "ny": 4},
    "physics": {"model": "advection_diffusion", "velocity": [1.0, 0.0]},
    "initial_condition": {"expression": "sin(2*pi*x)"},
    "time": {"stop": 1.0, "output_interval": 0.25},
}


def write_case(directory: Path, data: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "case.toml").write_text(tomli_w.dumps(data))
    return directory


def with_sections(base=BASE, **sections) -> dict:
    data = copy.deepcopy(base)
    data.update(copy.deepcopy(sections))
    return data


def case_error(tmp_path: Path, data: dict) -> str:
    with pytest.raises(CaseError) as info:
        load_case(write_case(tmp_path / "bad", data))
    return str(info.value)


# --------------------------------------------------------------------------
# schema


def test_defaults_when_the_sections_are_absent(tmp_path):
    case = load_case(write_case(tmp_path / "c", BASE))
    assert case.training is None
    obs = case.observations
    assert obs == ObservationsConfig()
    assert (obs.every, obs.cells, obs.noise, obs.seed, obs.file) == (1, "all", 0.0, 0, None)
    assert obs.weights == {"u": 1.0}
    assert "[observations]" in case.to_toml() and "[training]" not in case.to_toml()


def test_training_defaults_and_resolved_times(tmp_path):
    case = load_case(write_case(tmp_path / "c", with_sections(training={})))
    t = case.training
    assert isinstance(t, TrainingConfig)
    assert (t.window, t.batch, t.steps, t.optimizer) == (3, 8, 300, "rmsprop")
    assert (t.learning_rate, t.decay_rate, t.decay_steps, t.clip_norm) == (0.075, 0.97, 100, 1.0)
    assert (t.loss, t.l1, t.l2, t.prune_threshold, t.seed) == ("l1", 0.0, 0.0, 0.0, 0)
    assert (t.checkpoint_every, t.max_failures, t.ensemble) == (50, 20, 1)
    assert t.train_times == (0.0, 1.0) and t.validation_times is None
    assert t.configurations == ((),)
    assert case.with_overrides(["time.stop=0.5"]).training.train_times == (0.0, 0.5)


def test_sections_round_trip_through_toml(tmp_path):
    data = with_sections(
        observations={"every": 2, "cells": [1, 4, 7], "noise": 0.01, "seed": 3, "weights": {"u": 2.0}},
        training={"window": 4, "optimizer": "adam", "loss": "l1+mse", "train_times": [0.0, 0.6],
                  "validation_times": [0.6, 1.0], "configurations": [["grid.nx=20"], []],
                  "ensemble": 5})
    directory = write_case(tmp_path / "c", data)
    case = load_case(directory)
    assert case.observations.cells == (1, 4, 7)
    assert case.training.configurations == (("grid.nx=20",), ())
    text = case.to_toml()
    (directory / "case.toml").write_text(text)
    again = load_case(directory)
    assert again == case and again.to_toml() == text


def test_2d_cells(tmp_path):
    case = load_case(write_case(tmp_path / "c", with_sections(BASE_2D, observations={"cells": [[0, 5], [3, 0]]})))
    assert case.observations.cells == ((0, 5), (3, 0))
    message = case_error(tmp_path, with_sections(BASE_2D, observations={"cells": [[4, 0], [0, 6]]}))
    assert "\n  observations.cells[0]: outside the grid (need j (y) index in 0..3 and i (x) index in 0..5)" in message
    assert "\n  observations.cells[1]: outside the grid" in message
    message = case_error(tmp_path, with_sections(BASE_2D, observations={"cells": [1, 2]}))
    assert "observations.cells: a 2D grid needs [[j, i], ...] (y, x index pairs) (got [1, 2])" in message


def test_cells_are_revalidated_with_overrides(tmp_path):
    case = load_case(write_case(tmp_path / "c", with_sections(observations={"cells": [9]})))
    with pytest.raises(CaseError, match=r"observations.cells\[0\]: outside the grid \(need i index in 0..7\)"):
        case.with_overrides(["grid.nx=8"])


def _obs(**values):
    return with_sections(observations=values)


def _train(**values):
    return with_sections(training=values)


BAD = {
    "every 0": (_obs(every=0), "observations.every: must be >= 1 (got 0)"),
    "every float": (_obs(every=1.5), "observations.every: expected an integer (got 1.5)"),
    "cells word": (_obs(cells="some"), 'observations.cells: expected "all", a stride'),
    "cells stride 0": (_obs(cells=0), "observations.cells: a stride must be >= 1 (got 0)"),
    "cells empty": (_obs(cells=[]), 'observations.cells: expected "all"'),
    "cells out of range": (_obs(cells=[3, 10]), "observations.cells[1]: outside the grid (need i index in 0..9) (got 10)"),
    "cells negative": (_obs(cells=[-1]), "observations.cells[0]: outside the grid"),
    "cells repeated": (_obs(cells=[2, 2]), "observations.cells[1]: repeats an earlier cell (got 2)"),
    "cells pairs in 1D": (_obs(cells=[[0, 1]]), "observations.cells: a 1D grid needs [i, ...]"),
    "noise negative": (_obs(noise=-0.1), "observations.noise: must be >= 0 (got -0.1)"),
    "seed float": (_obs(seed=0.5), "observations.seed: expected an integer (got 0.5)"),
    "weights unknown variable": (_obs(weights={"v": 1.0}), "observations.weights.v: unknown variable (allowed: u)"),
    "weights negative": (_obs(weights={"u": -1.0}), "observations.weights.u: must be >= 0 (got -1.0)"),
    "weights all zero": (_obs(weights={"u": 0.0}), "observations.weights: give at least one weight > 0"),
    "file missing": (_obs(file="obs.nc"), "observations.file: file not found: "),
    "unknown key": (_obs(stride=2), "observations.stride: unknown key (allowed: cells, every, file, map, noise, seed, weights)"),
    "window 0": (_train(window=0), "training.window: must be >= 1 (got 0)"),
    "batch 0": (_train(batch=0), "training.batch: must be >= 1 (got 0)"),
    "steps float": (_train(steps=10.0), "training.steps: expected an integer (got 10.0)"),
    "optimizer": (_train(optimizer="sgd"), "training.optimizer: expected one of 'rmsprop', 'adam' (got 'sgd')"),
    "learning rate 0": (_train(learning_rate=0), "training.learning_rate: must be > 0 (got 0)"),
    "decay rate 0": (_train(decay_rate=0.0), "training.decay_rate: must be > 0 (got 0.0)"),
    "decay rate above 1": (_train(decay_rate=1.5), "training.decay_rate: must be <= 1 (got 1.5)"),
    "decay steps": (_train(decay_steps=0), "training.decay_steps: must be >= 1 (got 0)"),
    "clip norm": (_train(clip_norm=-1.0), "training.clip_norm: must be > 0 (got -1.0)"),
    "loss": (_train(loss="l2"), "training.loss: expected one of 'l1', 'mse', 'l1+mse' (got 'l2')"),
    "l1": (_train(l1=-1e-3), "training.l1: must be >= 0 (got -0.001)"),
    "l2": (_train(l2="big"), "training.l2: expected a number (got 'big')"),
    "prune": (_train(prune_threshold=-1.0), "training.prune_threshold: must be >= 0 (got -1.0)"),
    "seed": (_train(seed="1"), "training.seed: expected an integer (got '1')"),
    "checkpoint every": (_train(checkpoint_every=0), "training.checkpoint_every: must be >= 1 (got 0)"),
    "train times shape": (_train(train_times=[0.5]), "training.train_times: expected [t0, t1] with finite numbers (got [0.5])"),
    "train times reversed": (_train(train_times=[0.5, 0.2]), "training.train_times: t1 must be > t0 (got [0.5, 0.2])"),
    "configurations not lists": (_train(configurations=["grid.nx=20"]), "training.configurations[0]: expected an array"),
    "configurations empty": (_train(configurations=[]), "training.configurations: give at least one configuration"),
    "configuration invalid value": (_train(configurations=[[], ["physics.nu=-1"]]),
                                    "training.configurations[1].physics.nu: must be >= 0 (got -1)"),
    "configuration malformed": (_train(configurations=[["physics.nu"]]),
                                "training.configurations[0]: malformed override 'physics.nu'"),
    "configuration unknown section": (_train(configurations=[["phyics.nu=1"]]),
                                      "training.configurations[0].phyics: unknown section"),
    "configuration changes training": (_train(configurations=[["training.steps=3"]]),
                                       "training.configurations[0][0]: a configuration cannot change [training]"),
    "max failures": (_train(max_failures=0), "training.max_failures: must be >= 1 (got 0)"),
    "ensemble": (_train(ensemble=0), "training.ensemble: must be >= 1 (got 0)"),
    "selection": (_train(selection="cv"), "training.selection: expected one of 'bic', 'aic', 'none' (got 'cv')"),
    "relative threshold": (_train(relative_threshold=1.5), "training.relative_threshold: must be < 1 (got 1.5)"),
    "selection times reversed": (_train(selection_times=[0.5, 0.2]),
                                 "training.selection_times: t1 must be > t0 (got [0.5, 0.2])"),
    "refit iterations": (_train(refit_iterations=0), "training.refit_iterations: must be >= 1 (got 0)"),
    "max candidates": (_train(max_candidates=0), "training.max_candidates: must be >= 1 (got 0)"),
    "inclusion": (_train(inclusion=0.0), "training.inclusion: must be > 0 (got 0.0)"),
    "unknown training key": (_train(epochs=3), "training.epochs: unknown key (allowed: batch,"),
}


# checked by check_training (the trainer), not on loading: `run --set time.stop=...` must work
BAD_TIMES = {
    "window too long": (_train(window=20), ("training.window: 20 output intervals (= 2) is longer than the "
                                            "training data (train_times span 1)")),
    "window longer than train_times": (_train(window=6, train_times=[0.0, 0.5]),
                                       "training.window: 6 output intervals"),
    "train times outside": (_train(train_times=[0.0, 2.0]), ("training.train_times: must lie within "
                                                             "[time.start, time.stop] = [0, 1] (got [0.0, 2.0])")),
    "validation times outside": (_train(validation_times=[-1.0, 0.5]), "training.validation_times: must lie within"),
    "selection times outside": (_train(selection_times=[0.5, 1.5]), "training.selection_times: must lie within"),
}


@pytest.mark.parametrize("data, expected", BAD_TIMES.values(), ids=BAD_TIMES.keys())
def test_training_times_are_checked_by_check_training(tmp_path, data, expected):
    case = load_case(write_case(tmp_path / "c", data))
    with pytest.raises(CaseError) as info:
        check_training(case)
    assert f"\n  {expected}" in str(info.value), str(info.value)


def test_check_training_accepts_a_fitting_case(tmp_path):
    case = load_case(write_case(tmp_path / "c", _train(window=10)))
    check_training(case)
    check_training(load_case(write_case(tmp_path / "d", BASE)))  # no [training]: nothing to check


@pytest.mark.parametrize("data, expected", BAD.values(), ids=BAD.keys())
def test_bad_input_names_the_key(tmp_path, data, expected):
    message = case_error(tmp_path, data)
    assert f"\n  {expected}" in message, message


def test_observation_file_excludes_sampling_keys(tmp_path):
    directory = tmp_path / "bad"
    directory.mkdir()
    (directory / "obs.nc").write_bytes(b"x")
    message = case_error(tmp_path, _obs(file="obs.nc", every=2, noise=0.1))
    assert "\n  observations.every: not used with observations.file" in message
    assert "\n  observations.noise: not used with observations.file" in message
    assert load_case(write_case(directory, _obs(file="obs.nc", seed=3))).observations.file == "obs.nc"


def test_a_base_problem_is_not_repeated_per_configuration(tmp_path):
    data = _train(configurations=[["grid.nx=20"], ["physics.nu=0.02"]])
    data["physics"]["nu"] = -1.0
    message = case_error(tmp_path, data)
    assert "(1 error)" in message and "\n  physics.nu: must be >= 0" in message


# --------------------------------------------------------------------------
# observation operators


NX, NT = 10, 11


def truth_1d(nx=NX, nt=NT) -> tuple[xr.Dataset, Grid]:
    grid = Grid.uniform(nx, (0.0, 1.0))
    times = np.linspace(0.0, 1.0, nt)
    values = 100.0 * np.arange(nt)[:, None] + np.arange(nx)[None, :]  # value = 100 n + i
    return make_dataset(grid, times, {"u": (values, "truth")}), grid


def truth_2d() -> tuple[xr.Dataset, Grid]:
    grid = Grid.uniform((6, 4), ((0.0, 1.0), (0.0, 2.0)))
    times = np.linspace(0.0, 1.0, 5)
    values = (1000.0 * np.arange(5)[:, None, None] + 10.0 * np.arange(4)[None, :, None]
              + np.arange(6)[None, None, :])  # value = 1000 n + 10 j + i
    return make_dataset(grid, times, {"u": (values, "truth")}), grid


def test_every_kth_time_and_all_cells():
    truth, grid = truth_1d()
    obs = observe(truth, ObservationsConfig(every=3), grid)
    np.testing.assert_array_equal(obs.time_index, [0, 3, 6, 9])
    np.testing.assert_allclose(obs.times, [0.0, 0.3, 0.6, 0.9])
    np.testing.assert_array_equal(obs.cells, np.arange(NX))
    np.testing.assert_array_equal(obs.values, 100.0 * obs.time_index[:, None] + np.arange(NX)[None, :])
    assert obs.weight == 1.0 and obs.variable == "u" and obs.field_shape == (NX,)


def test_stride_and_explicit_cells():
    truth, grid = truth_1d()
    obs = observe(truth, ObservationsConfig(cells=4), grid)
    np.testing.assert_array_equal(obs.cells, [0, 4, 8])
    np.testing.assert_array_equal(obs.values[5], [500.0, 504.0, 508.0])
    obs = observe(truth, ObservationsConfig(cells=[7, 2], every=5, weights={"u": 0.5}), grid)
    np.testing.assert_array_equal(obs.cells, [7, 2])
    np.testing.assert_array_equal(obs.values, [[7.0, 2.0], [507.0, 502.0], [1007.0, 1002.0]])
    assert obs.weight == 0.5


def test_2d_stride_and_pairs():
    truth, grid = truth_2d()
    obs = observe(truth, ObservationsConfig(cells=2), grid)
    # j in {0, 2}, i in {0, 2, 4}: flat index j * nx + i, value 1000 n + 10 j + i
    np.testing.assert_array_equal(obs.cells, [0, 2, 4, 12, 14, 16])
    np.testing.assert_array_equal(obs.values[1], [1000, 1002, 1004, 1020, 1022, 1024])
    obs = observe(truth, ObservationsConfig(cells=((3, 5), (1, 0))), grid)
    np.testing.assert_array_equal(obs.cells, [3 * 6 + 5, 6])
    np.testing.assert_array_equal(obs.values[:, 0], 1000.0 * np.arange(5) + 35.0)


def test_gather_mask_dense_and_between_agree():
    truth, grid = truth_1d()
    obs = observe(truth, ObservationsConfig(every=2, cells=3), grid)
    stack = truth["u"].values
    np.testing.assert_array_equal(obs.gather(stack), obs.values)
    import jax.numpy as jnp

    np.testing.assert_array_equal(np.asarray(obs.gather(jnp.asarray(stack))), obs.values)
    np.testing.assert_array_equal(obs.gather_cells(stack[4]), [400.0, 403.0, 406.0, 409.0])
    mask = obs.mask(NT)
    assert mask.shape == (NT, NX) and mask.sum() == obs.values.size
    assert mask[2, 3] and not mask[1, 3] and not mask[2, 4]
    targets, weights = obs.dense(NT)
    np.testing.assert_array_equal(targets[mask], obs.values.ravel())
    assert np.all(weights[mask] == 1.0) and np.all(weights[~mask] == 0.0)
    late = obs.between(0.5, 1.0)
    np.testing.assert_array_equal(late.time_index, [6, 8, 10])
    np.testing.assert_array_equal(late.values, obs.values[3:])
    with pytest.raises(ValueError):
        obs.values[0, 0] = 1.0  # read-only


def test_noise_is_reproducible_and_has_the_right_std():
    truth, grid = truth_1d(nx=200, nt=101)
    clean = observe(truth, ObservationsConfig(), grid)
    noisy = observe(truth, ObservationsConfig(noise=0.05, seed=7), grid)
    again = observe(truth, ObservationsConfig(noise=0.05, seed=7), grid)
    other = observe(truth, ObservationsConfig(noise=0.05, seed=8), grid)
    np.testing.assert_array_equal(noisy.values, again.values)
    assert not np.array_equal(noisy.values, other.values)
    error = noisy.values - clean.values
    assert error.std() == pytest.approx(0.05, rel=0.02)  # 20 200 samples: ~0.5% sampling error
    assert abs(error.mean()) < 0.05 * 4 / np.sqrt(error.size)
    expected = clean.values + 0.05 * np.random.default_rng(7).standard_normal(clean.values.shape)
    np.testing.assert_array_equal(noisy.values, expected)


# --------------------------------------------------------------------------
# observation files


def obs_file(path: Path, x, times, values=None, dims=("time", "x"), units=None, name="u") -> Path:
    x, times = np.asarray(x, dtype=float), np.asarray(times, dtype=float)
    values = np.zeros((times.size, x.size)) if values is None else values
    attrs = {} if units is None else {"units": units}
    coords = {"time": times, "x": (dims[1], x)}
    if dims[1] == "x":
        coords["x"] = x
    xr.Dataset({name: (dims, values, attrs)}, coords=coords).to_netcdf(path)
    return path


def centres(i):
    return (np.asarray(i) + 0.5) / NX


def test_gridded_observation_file(tmp_path):
    truth, _ = truth_1d()
    values = np.array([[1.0, 2.0], [3.0, 4.0]])
    path = obs_file(tmp_path / "obs.nc", centres([6, 1]), [0.7, 0.2], values, units="1")
    obs = read_observation_file(path, truth, weight=2.0)
    np.testing.assert_array_equal(obs.time_index, [2, 7])  # sorted by time
    np.testing.assert_array_equal(obs.cells, [6, 1])
    np.testing.assert_array_equal(obs.values, [[3.0, 4.0], [1.0, 2.0]])
    assert obs.weight == 2.0 and obs.field_shape == (NX,)


def test_station_observation_file_and_observe_with_a_file(tmp_path):
    truth, grid = truth_1d()
    path = obs_file(tmp_path / "obs.nc", centres([9, 0, 4]), [0.0, 1.0], np.arange(6.0).reshape(2, 3),
                    dims=("time", "station"))
    obs = read_observation_file(path, truth)
    np.testing.assert_array_equal(obs.cells, [9, 0, 4])
    np.testing.assert_array_equal(obs.time_index, [0, 10])
    config = ObservationsConfig(file="obs.nc", weights={"u": 3.0})
    via_config = observe(truth, config, grid, directory=tmp_path)
    np.testing.assert_array_equal(via_config.values, obs.values)
    assert via_config.weight == 3.0
    with pytest.raises(ObservationError, match="pass directory= or use case_observations"):
        observe(truth, config, grid)


def test_case_observations_uses_the_case_directory(tmp_path):
    from oceanclosure.truth import load_truth

    directory = write_case(tmp_path / "c", with_sections(truth={"analytic": "advected_diffused_sine"},
                                                         physics={"model": "advection_diffusion",
                                                                  "velocity": 1.0, "diffusivity": 0.01}))
    obs_file(directory / "obs.nc", centres([2, 5]), [0.3, 0.5])
    data = with_sections(truth={"analytic": "advected_diffused_sine"}, observations={"file": "obs.nc"},
                         physics={"model": "advection_diffusion", "velocity": 1.0, "diffusivity": 0.01})
    case = load_case(write_case(directory, data))
    truth = load_truth(case)
    obs = case_observations(case, truth)
    np.testing.assert_array_equal(obs.cells, [2, 5])
    assert "case_directory" not in truth.attrs  # the directory is passed, not carried in the dataset
    with pytest.raises(ObservationError, match="pass directory="):
        observe(truth, case.observations)


@pytest.mark.parametrize("change, error, needle", [
    ("wrong x", ObservationError, "x = 0.21 is not a cell centre of the case grid (nearest centre 0.25"),
    ("time outside", ObservationError, "time 1.5 is outside the run window [0, 1]"),
    ("time between outputs", ObservationError, "time 0.25 is not a truth output time"),
    ("wrong units", ObservationError, "'u' has units 'm/s', the truth's are '1'"),
    ("no variable", ObservationError, "has no variable 'u' (it has ['v'])"),
    ("repeated station", ObservationError, "two station entries fall on the same cell"),
    ("not finite", ObservationError, "'u' is not finite at time 0.2"),
    ("wrong dims", ObservationError, "has dims ('time', 'z')"),
    ("missing", FileNotFoundError, "does not exist"),
    ("corrupt", ObservationError, "cannot be read as netCDF"),
])
def test_bad_observation_file_gives_a_clear_error(tmp_path, change, error, needle):
    truth, _ = truth_1d()
    x, times, values, dims, units, name = centres([1, 3]), [0.2, 0.4], None, ("time", "x"), None, "u"
    if change == "wrong x":
        x = [centres(1), 0.21]
    elif change == "time outside":
        times = [0.2, 1.5]
    elif change == "time between outputs":
        times = [0.2, 0.25]
    elif change == "wrong units":
        units = "m/s"
    elif change == "no variable":
        name = "v"
    elif change == "repeated station":
        x, dims = centres([1, 1]), ("time", "station")
    elif change == "not finite":
        values = np.array([[1.0, np.nan], [0.0, 0.0]])
    path = tmp_path / "obs.nc"
    if change == "wrong dims":
        xr.Dataset({"u": (("time", "z"), np.zeros((2, 2)))}, coords={"time": [0.2, 0.4]}).to_netcdf(path)
    elif change == "corrupt":
        path.write_bytes(b"garbage")
    elif change != "missing":
        obs_file(path, x, times, values, dims=dims, units=units, name=name)
    with pytest.raises(error) as info:
        read_observation_file(path, truth)
    assert needle in str(info.value) and str(path) in str(info.value), str(info.value)


def test_observations_validate_their_shapes():
    with pytest.raises(ValueError, match="values have shape"):
        Observations(np.arange(2), np.zeros(2), np.arange(3), np.zeros((2, 2)))


def test_2d_observation_files(tmp_path):
    truth, grid = truth_2d()
    xs, ys = (np.array([4, 1]) + 0.5) / 6, (np.array([2]) + 0.5) * 0.5
    values = np.arange(4.0).reshape(2, 1, 2)
    xr.Dataset({"u": (("time", "y", "x"), values)},
               coords={"time": [0.25, 1.0], "x": xs, "y": ys}).to_netcdf(tmp_path / "grid.nc")
    obs = read_observation_file(tmp_path / "grid.nc", truth)
    np.testing.assert_array_equal(obs.cells, [2 * 6 + 4, 2 * 6 + 1])
    np.testing.assert_array_equal(obs.time_index, [1, 4])
    np.testing.assert_array_equal(obs.values, [[0.0, 1.0], [2.0, 3.0]])
    xr.Dataset({"u": (("time", "station"), np.ones((1, 2)))},
               coords={"time": [0.5], "x": ("station", xs), "y": ("station", [ys[0], 0.25])}
               ).to_netcdf(tmp_path / "stations.nc")
    obs = read_observation_file(tmp_path / "stations.nc", truth)
    np.testing.assert_array_equal(obs.cells, [2 * 6 + 4, 0 * 6 + 1])
    np.testing.assert_array_equal(obs.gather(truth["u"].values), [[2024.0, 2001.0]])
