"""Output files: atomic writes, no silent overwrite, CF attributes, round trip, checkpoints."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from oceanclosure import analysis, io
from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.grid import Grid
from oceanclosure.models import Burgers
from oceanclosure.simulation import SimState, Simulation


def _dataset(grid, nt=3):
    times = np.linspace(0.0, 1.0, nt)
    data = np.random.default_rng(0).normal(size=(nt,) + grid.array_shape)
    return io.make_dataset(grid, times, {"u": (data, "state")}, {"scheme": "upwind"})


@pytest.mark.parametrize("grid", [Grid.uniform(16, [0.0, 2.0]), Grid.uniform((8, 6), [[0.0, 1.0], [-1.0, 2.0]])])
def test_round_trip_rebuilds_grid_and_data(tmp_path, grid):
    ds = _dataset(grid)
    path = io.write_netcdf(ds, tmp_path / "run.nc")
    back = analysis.open_run(path)
    assert io.grid_from_dataset(back) == grid
    np.testing.assert_array_equal(back["u"].values, ds["u"].values)
    np.testing.assert_allclose(back["x"].values, grid.centers(0))
    assert back["u"].dims == (("time", "x") if grid.ndim == 1 else ("time", "y", "x"))


def test_cf_attributes_and_plain_float_time(tmp_path):
    ds = _dataset(Grid.uniform(8, [0.0, 1.0]))
    back = analysis.open_run(io.write_netcdf(ds, tmp_path / "run.nc"))
    for name in ("u", "x", "time"):
        assert {"units", "long_name"} <= set(back[name].attrs)
    assert back["time"].dtype == np.float64
    assert "since" not in back["time"].attrs["units"]
    # A plain xarray open (default decoding) must not turn time into dates either.
    with xr.open_dataset(tmp_path / "run.nc") as plain:
        assert np.issubdtype(plain["time"].dtype, np.floating)
    for key in ("oceanclosure_version", "git_revision", "Conventions", "scheme"):
        assert key in back.attrs


def test_refuses_to_overwrite_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "run.nc"
    io.write_netcdf(_dataset(Grid.uniform(8, [0.0, 1.0])), path)
    before = path.read_bytes()
    with pytest.raises(io.OutputExistsError, match="--overwrite"):
        io.write_netcdf(_dataset(Grid.uniform(4, [0.0, 1.0])), path)
    assert path.read_bytes() == before
    io.write_netcdf(_dataset(Grid.uniform(4, [0.0, 1.0])), path, overwrite=True)
    assert analysis.open_run(path).sizes["x"] == 4


def test_failed_write_leaves_no_file_and_no_temporary(tmp_path):
    path = tmp_path / "sub" / "out.bin"

    def broken(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io.write_bytes_atomic(path, broken)
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def _sim():
    grid = Grid.uniform(32, [0.0, 2 * np.pi])
    return Simulation(Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=0.05), dt=0.01)


def test_checkpoint_restart_equals_uninterrupted_run(tmp_path):
    sim = _sim()
    x, = sim.grid.mesh()
    state0 = sim.initial_state(jnp.asarray(np.sin(x) + 0.5, jnp.float32))
    straight = sim.advance(state0, 0.4, 40)
    half = sim.advance(state0, 0.2, 20)
    io.save_state(half, tmp_path / "state.npz")
    restored = io.load_state(tmp_path / "state.npz", like=half)
    resumed = sim.advance(SimState(*restored), 0.4, 20)
    np.testing.assert_array_equal(np.asarray(resumed.fields["u"]), np.asarray(straight.fields["u"]))


def test_checkpoint_of_another_run_is_refused(tmp_path):
    sim = _sim()
    state = sim.initial_state(jnp.zeros(32, jnp.float32))
    io.save_state(state, tmp_path / "state.npz")
    other = SimState(jnp.zeros(64, jnp.float32), jnp.float32(0.0), ())
    with pytest.raises(io.CheckpointError, match="does not match"):
        io.load_state(tmp_path / "state.npz", like=other)


def test_checkpoint_with_the_same_shapes_but_another_structure_is_refused(tmp_path):
    """Same leaf shapes, other tree: field 'u' is not field 'v', and a buffer tuple is not a dict."""
    zeros = jnp.zeros(32, jnp.float32)
    saved = SimState({"u": zeros}, jnp.float32(0.0), (zeros,))
    io.save_state(saved, tmp_path / "state.npz")
    shapes = [np.shape(a) for a in jax.tree_util.tree_leaves(saved)]
    for other in (SimState({"v": zeros}, jnp.float32(0.0), (zeros,)),
                  SimState({"u": zeros}, jnp.float32(0.0), {"buffer": zeros})):
        assert [np.shape(a) for a in jax.tree_util.tree_leaves(other)] == shapes  # only the structure differs
        with pytest.raises(io.CheckpointError, match="does not match"):
            io.load_state(tmp_path / "state.npz", like=other)


def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path):
    sim = _sim()
    state = sim.initial_state(jnp.zeros(32, jnp.float32))
    with pytest.raises(io.CheckpointError, match="does not exist"):
        io.load_state(tmp_path / "missing.npz", like=state)
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(io.CheckpointError, match="corrupt"):
        io.load_state(tmp_path / "bad.npz", like=state)
