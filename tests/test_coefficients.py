"""Tests for oceanclosure.coefficients: constants, time tables, expressions, files."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from oceanclosure.coefficients import (
    Coefficient,
    Constant,
    ExpressionCoefficient,
    FileCoefficient,
    TimeTable,
    coefficient_from_spec,
    nonnegative,
    require_nonnegative,
)
from oceanclosure.expressions import ExpressionError
from oceanclosure.grid import Grid

pytestmark = pytest.mark.usefixtures("x64")

COLUMN = Grid.uniform(10, [-50.0, 0.0], dims=("z",))
PLANE = Grid.uniform((4, 3), [[0.0, 1.0], [0.0, 3.0]])
MIXED_LAYER = "0.1 + 8*exp((z - M(t))/10)"


def _depth_table():
    return TimeTable([0.0, 180.0], [-20.0, -40.0], period=365.0)


def _mixed_layer():
    return ExpressionCoefficient(MIXED_LAYER, ("z",), {}, {"M": _depth_table()})


# --------------------------------------------------------------------------
# Constant


def test_constant_value_and_interface():
    c = Constant(0.25)
    assert float(c.at(COLUMN.coordinates(), 3.0)) == 0.25
    assert c.is_constant and c.global_minimum() == 0.25
    assert c.max_abs(COLUMN.coordinates(), [0.0]) == 0.25
    assert c.min_value(COLUMN.coordinates(), [0.0, 1.0]) == 0.25
    assert c == Constant(0.25) and hash(c) == hash(Constant(0.25)) and c != Constant(0.5)
    assert c.describe() == "constant 0.25" and isinstance(c, Coefficient)


@pytest.mark.parametrize("value, error, fragment", [
    (float("nan"), ValueError, "Constant: value must be finite, got nan"),
    (True, TypeError, "Constant: value must be a number, got bool True"),
    ("1", TypeError, "must be a number, got str '1'"),
])
def test_constant_rejects_bad_values(value, error, fragment):
    with pytest.raises(error, match=fragment):
        Constant(value)


# --------------------------------------------------------------------------
# TimeTable


def test_table_is_piecewise_linear_with_constant_extrapolation():
    table = TimeTable([0.0, 10.0, 30.0], [1.0, 3.0, -1.0])
    s = np.array([-5.0, 0.0, 5.0, 10.0, 20.0, 30.0, 99.0])
    expected = [1.0, 1.0, 2.0, 3.0, 1.0, -1.0, -1.0]
    np.testing.assert_allclose(np.asarray(table(s)), expected)
    np.testing.assert_allclose(table.interpolate(np, s), expected)
    assert float(table.at({}, 5.0)) == 2.0
    assert not table.is_constant and table.global_minimum() == -1.0


def test_periodic_table_closes_through_the_first_value():
    table = TimeTable([10.0, 100.0, 200.0], [1.0, 3.0, 2.0], period=365.0)
    s = np.linspace(-800.0, 800.0, 97)
    np.testing.assert_allclose(table.interpolate(np, s + 365.0), table.interpolate(np, s), atol=1e-12)
    # between the last knot (200, 2) and the first one a period later (375, 1)
    for t, expected in [(200.0, 2.0), (287.5, 1.5), (375.0, 1.0), (10.0, 1.0), (5.0, 1 + 1 / 35)]:
        assert table.interpolate(np, t) == pytest.approx(expected, rel=1e-12)


def test_periodic_table_spanning_the_period_may_jump_at_the_wrap():
    table = TimeTable([0.0, 180.0, 365.0], [1.0, 4.0, 2.0], period=365.0)
    assert table.interpolate(np, 365.0) == 1.0  # value at t0 + P
    assert table.interpolate(np, 365.0 - 1e-9) == pytest.approx(2.0, abs=1e-9)  # left limit
    assert table.interpolate(np, -1e-9) == pytest.approx(2.0, abs=1e-9)


def test_table_under_jit_and_grad_in_t():
    table = TimeTable([0.0, 100.0, 200.0], [1.0, 3.0, 2.0], period=365.0)
    value = jax.jit(lambda t: table.at({}, t))
    assert float(value(650.0)) == pytest.approx(float(table.interpolate(np, 650.0 - 365.0)))
    slope = jax.grad(lambda t: table.at({}, t))
    assert float(slope(50.0)) == pytest.approx(0.02)
    assert float(slope(250.0 + 365.0)) == pytest.approx(-1.0 / 165.0)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"t": [0, 1, 2], "values": [1, 2]},
     "t and values must have the same length, got len(t) = 3 and len(values) = 2"),
    ({"t": [0], "values": [1]}, "at least 2 points, got 1"),
    ({"t": [0, 2, 2], "values": [1, 2, 3]}, "strictly increasing, got t[1] = 2 followed by t[2] = 2"),
    ({"t": [0, 1], "values": [1, float("inf")]}, "values must be finite"),
    ({"t": [0, float("nan")], "values": [1, 2]}, "t must be finite"),
    ({"t": [0, 1], "values": [1, 2], "period": 0.0}, "period must be > 0, got 0"),
    ({"t": [0, 400], "values": [1, 2], "period": 365.0},
     "spans t[-1] - t[0] = 400, more than its period 365"),
    ({"t": [[0, 1]], "values": [[1, 2]]}, "one-dimensional, got shape (1, 2)"),
])
def test_table_validation_names_the_problem(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        TimeTable(**kwargs)
    assert fragment in str(info.value) and str(info.value).startswith("TimeTable:")


def test_table_sampling_includes_the_knots_between_the_times():
    table = TimeTable([0.0, 100.0, 200.0], [1.0, 5.0, -2.0], period=365.0)
    assert table.max_abs({}, [0.0, 50.0]) == pytest.approx(3.0)
    assert table.max_abs({}, [0.0, 150.0]) == 5.0  # the peak at t = 100
    assert table.min_value({}, [0.0, 1000.0]) == -2.0
    assert table.min_value({}, [365.0 + 150.0, 365.0 + 250.0]) == -2.0  # next period's knot
    knots = table.critical_times(0.0, 10_000.0)
    assert len(knots) <= 4  # one period's worth, however long the window


def test_table_equality_hash_and_static_use():
    a, b = TimeTable([0, 1], [2, 3]), TimeTable([0.0, 1.0], [2.0, 3.0])
    assert a == b and hash(a) == hash(b) and a != TimeTable([0, 1], [2, 3], period=5)
    with pytest.raises(ValueError):
        a.values[0] = 1.0  # read only
    run = jax.jit(lambda c, t: c.at({}, t), static_argnums=0)
    assert float(run(a, 0.5)) == 2.5 and float(run(b, 0.25)) == 2.25


# --------------------------------------------------------------------------
# ExpressionCoefficient


def test_expression_with_a_table_matches_numpy_at_faces():
    coefficient = _mixed_layer()
    z = COLUMN.face_coordinates(0)["z"]
    for t in [0.0, 90.0, 300.0, 400.0]:
        depth = float(_depth_table().interpolate(np, t))
        expected = 0.1 + 8 * np.exp((z - depth) / 10)
        np.testing.assert_allclose(np.asarray(coefficient.at({"z": z}, t)), expected, rtol=1e-12)
        np.testing.assert_allclose(coefficient.evaluate(np, {"z": z}, t), expected, rtol=1e-12)


def test_expression_is_traceable_in_t():
    coefficient = _mixed_layer()
    coords = COLUMN.face_coordinates(0)
    run = jax.jit(lambda t: coefficient.at(coords, t))
    np.testing.assert_allclose(np.asarray(run(90.0)), coefficient.evaluate(np, coords, 90.0),
                               rtol=1e-12)
    top = jax.grad(lambda t: coefficient.at({"z": 0.0}, t))(90.0)
    depth = float(_depth_table().interpolate(np, 90.0))
    assert float(top) == pytest.approx(8 * np.exp(-depth / 10) * (-(-20.0 / 180.0) / 10))


def test_expression_with_parameters_in_2d():
    coefficient = ExpressionCoefficient("kappa * (1 + x*y) + 0*t", ("x", "y"), {"kappa": 2.0})
    coords = PLANE.coordinates()
    np.testing.assert_allclose(np.asarray(coefficient.at(coords, 0.0)),
                               2.0 * (1 + coords["x"] * coords["y"]))
    assert coefficient.coordinate_names == ("x", "y")
    assert "kappa = 2" in coefficient.describe()


def test_constant_expression_is_exact():
    coefficient = ExpressionCoefficient("2*kappa - 1", ("z",), {"kappa": 0.25})
    assert coefficient.is_constant and coefficient.global_minimum() == -0.5
    assert not _mixed_layer().is_constant and _mixed_layer().global_minimum() is None


def test_unknown_names_give_one_error_listing_the_allowed_ones():
    with pytest.raises(ExpressionError) as info:
        ExpressionCoefficient("q + M(t)", ("z",), {"kappa": 1.0}, {"M": _depth_table()},
                              what="physics.diffusivity")
    message = str(info.value)
    assert "unknown name 'q'" in message and "physics.diffusivity" in message
    assert "allowed variables: z, t, kappa" in message and "M/1" in message


@pytest.mark.parametrize("make, error, fragment", [
    (lambda: ExpressionCoefficient("z", ("z",), {"z": 1.0}), ValueError,
     "parameter 'z' collides with a coordinate name"),
    (lambda: ExpressionCoefficient("z", ("z",), {"t": 1.0}), ValueError,
     "parameter 't' collides"),
    (lambda: ExpressionCoefficient("z", ("z",), {"a": float("nan")}), ValueError,
     "parameter 'a' must be finite"),
    (lambda: ExpressionCoefficient("z", ("z",), {}, {"M": {"t": [0, 1]}}), TypeError,
     "tables['M'] must be a TimeTable, got dict"),
    (lambda: ExpressionCoefficient("z", ("z",), {"M": 1.0}, {"M": _depth_table()}),
     ExpressionError, "collides with the variable"),
    (lambda: ExpressionCoefficient("z", ("z",), {}, {"exp": _depth_table()}),
     ExpressionError, "collides with the builtin function"),
    (lambda: ExpressionCoefficient("z", "z"), TypeError, "not the str 'z'"),
    (lambda: ExpressionCoefficient("t", ("t",)), ValueError, "other than 't'"),
])
def test_expression_validation(make, error, fragment):
    with pytest.raises(error, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_expression_missing_coordinate_and_grid_check():
    coefficient = _mixed_layer()
    with pytest.raises(ValueError, match="needs coordinate\\(s\\) z, got coordinates x"):
        coefficient.at({"x": np.zeros(3)}, 0.0)
    coefficient.check_grid(COLUMN)
    with pytest.raises(ValueError, match="uses coordinate\\(s\\) z, but the grid has dimensions x"):
        coefficient.check_grid(Grid.uniform(4, [0.0, 1.0]))


def test_expression_sampling_includes_table_knots():
    coefficient = ExpressionCoefficient("M(t)", ("z",), {}, {"M": TimeTable([0, 10, 20], [0, 7, 0])})
    assert coefficient.max_abs(COLUMN.coordinates(), [0.0, 20.0]) == 7.0
    assert list(coefficient.critical_times(5.0, 30.0)) == [10.0, 20.0]


def test_expression_equality_and_hash():
    assert _mixed_layer() == _mixed_layer() and hash(_mixed_layer()) == hash(_mixed_layer())
    other = ExpressionCoefficient(MIXED_LAYER, ("z",), {}, {"M": TimeTable([0, 1], [0, 1])})
    assert other != _mixed_layer()
    unused = ExpressionCoefficient(MIXED_LAYER, ("z",), {"kappa": 3.0},
                                   {"M": _depth_table(), "N": TimeTable([0, 1], [0, 1])})
    assert unused == _mixed_layer()  # unused parameters and tables change nothing


# --------------------------------------------------------------------------
# FileCoefficient


def _write(path, variable, data, dims, coords=None, **extra):
    xr.Dataset({variable: (dims, np.asarray(data)), **extra}, coords=coords or {}).to_netcdf(path)
    return path


def _column_file(tmp_path, times=(0.0, 10.0)):
    z = COLUMN.centers(0)
    data = np.stack([np.ones_like(z), -z])  # K = 1 at t = 0, K = -z at t = 10
    return _write(tmp_path / "k.nc", "K", data, ("time", "z"), {"z": z, "time": list(times)})


def test_file_values_at_centres_faces_and_times(tmp_path):
    coefficient = FileCoefficient(_column_file(tmp_path), "K", grid=COLUMN)
    z_c, z_f = COLUMN.centers(0), COLUMN.faces(0)
    np.testing.assert_allclose(np.asarray(coefficient.at(COLUMN.coordinates(), 10.0)), -z_c)
    np.testing.assert_allclose(np.asarray(coefficient.at(COLUMN.coordinates(), 2.5)),
                               0.75 + 0.25 * -z_c)
    faces = np.asarray(coefficient.at(COLUMN.face_coordinates(0), 10.0))
    np.testing.assert_allclose(faces[1:-1], -z_f[1:-1])  # mean of neighbouring centres
    assert faces[0] == -z_c[0] and faces[-1] == -z_c[-1]  # constant at the end faces
    np.testing.assert_allclose(np.asarray(coefficient.at(COLUMN.coordinates(), 99.0)), -z_c)
    np.testing.assert_allclose(np.asarray(coefficient.at(COLUMN.coordinates(), -1.0)), 1.0)


def test_file_is_traceable_in_t(tmp_path):
    coefficient = FileCoefficient(_column_file(tmp_path), "K", grid=COLUMN)
    coords = COLUMN.face_coordinates(0)
    run = jax.jit(lambda t: coefficient.at(coords, t))
    np.testing.assert_allclose(np.asarray(run(4.0)), coefficient.evaluate(np, coords, 4.0))
    slope = jax.grad(lambda t: coefficient.at({"z": -25.0}, t))(4.0)
    assert float(slope) == pytest.approx((25.0 - 1.0) / 10.0)


def test_file_in_2d_is_bilinear_and_accepts_any_dimension_order(tmp_path):
    x, y = PLANE.mesh()
    linear = x + 10 * y
    coords = {"x": PLANE.centers(0), "y": PLANE.centers(1)}
    path = _write(tmp_path / "u.nc", "u", linear.T, ("x", "y"), coords)  # stored (x, y)
    coefficient = FileCoefficient(path, "u", grid=PLANE)
    assert coefficient.data.shape == PLANE.array_shape == (3, 4)
    np.testing.assert_allclose(np.asarray(coefficient.at(PLANE.coordinates(), 0.0)), linear)
    for d in range(2):
        face = PLANE.face_coordinates(d)
        got = np.asarray(coefficient.at(face, 0.0))
        inner = (slice(None), slice(1, -1)) if d == 0 else (slice(1, -1), slice(None))
        np.testing.assert_allclose(got[inner], (face["x"] + 10 * face["y"])[inner], atol=1e-12)


def test_file_without_grid_uses_its_coordinates_and_checks_the_grid_later(tmp_path):
    path = _column_file(tmp_path)
    coefficient = FileCoefficient(path, "K", dims=("z",))
    assert coefficient == FileCoefficient(path, "K", grid=COLUMN)
    coefficient.check_grid(COLUMN)
    with pytest.raises(ValueError, match=r"wrong shape: expected \(nz\) = \(12,\) from the grid, got \(10,\)"):
        coefficient.check_grid(COLUMN.with_shape(12))
    shifted = Grid.uniform(10, [-49.0, 1.0], dims=("z",))
    with pytest.raises(ValueError, match="does not match the grid's cell centres"):
        coefficient.check_grid(shifted)


def test_file_sampling_is_exact_at_the_file_times(tmp_path):
    coefficient = FileCoefficient(_column_file(tmp_path), "K", grid=COLUMN)
    assert coefficient.max_abs(COLUMN.coordinates(), [0.0, 20.0]) == pytest.approx(47.5)
    assert coefficient.min_value(COLUMN.coordinates(), [0.0]) == 1.0
    assert coefficient.global_minimum() == 1.0
    assert "variable 'K'" in coefficient.describe() and "2 times in [0, 10]" in coefficient.describe()


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        FileCoefficient(tmp_path / "missing.nc", "K", grid=COLUMN)
    path = _column_file(tmp_path)
    with pytest.raises(ValueError, match="no variable 'kappa' in .*k.nc; available: K"):
        FileCoefficient(path, "kappa", grid=COLUMN)
    with pytest.raises(ValueError, match=r"wrong shape: expected \(nz\) = \(20,\) from the grid, got \(10,\)"):
        FileCoefficient(path, "K", grid=COLUMN.with_shape(20))
    corrupt = tmp_path / "corrupt.nc"
    corrupt.write_bytes(b"CDF\x01 this is not really netCDF" * 10)
    with pytest.raises(ValueError, match="cannot read .*corrupt.nc as netCDF"):
        FileCoefficient(corrupt, "K", grid=COLUMN)


def test_file_content_errors(tmp_path):
    z = COLUMN.centers(0)
    bad_dims = _write(tmp_path / "a.nc", "K", np.ones((2, 10)), ("depth", "z"), {"z": z})
    with pytest.raises(ValueError, match=r"has dimensions \(depth, z\); expected \(z\) or \(time, z\)"):
        FileCoefficient(bad_dims, "K", grid=COLUMN)
    nan = _write(tmp_path / "b.nc", "K", np.where(z < -40, np.nan, 1.0), ("z",), {"z": z})
    with pytest.raises(ValueError, match="has 2 missing or non-finite value"):
        FileCoefficient(nan, "K", grid=COLUMN)
    no_coords = _write(tmp_path / "c.nc", "K", np.ones(10), ("z",))
    with pytest.raises(ValueError, match="no coordinate\\(s\\) z and no grid"):
        FileCoefficient(no_coords, "K", dims=("z",))
    assert FileCoefficient(no_coords, "K", grid=COLUMN).global_minimum() == 1.0
    moved = _write(tmp_path / "d.nc", "K", np.ones(10), ("z",), {"z": z + 1.0})
    with pytest.raises(ValueError, match="coordinate 'z' does not match the grid's cell centres"):
        FileCoefficient(moved, "K", grid=COLUMN)
    no_time = _write(tmp_path / "e.nc", "K", np.ones((2, 10)), ("time", "z"), {"z": z})
    with pytest.raises(ValueError, match="time dimension but no time coordinate"):
        FileCoefficient(no_time, "K", grid=COLUMN)
    with pytest.raises(ValueError, match="give dims or grid"):
        FileCoefficient(no_time, "K")


# --------------------------------------------------------------------------
# sign checks


def test_require_nonnegative_is_exact_for_constants_tables_and_files(tmp_path):
    assert require_nonnegative(Constant(0.0), "physics.K") is False
    with pytest.raises(ValueError, match="physics.K must be nonnegative, but constant -1 has minimum -1"):
        require_nonnegative(Constant(-1.0), "physics.K")
    assert require_nonnegative(TimeTable([0, 1], [0, 2]), "physics.K") is False
    with pytest.raises(ValueError, match="physics.K must be nonnegative, but time table"):
        require_nonnegative(TimeTable([0, 1, 2], [1, -0.5, 2], period=3), "physics.K")
    assert require_nonnegative(FileCoefficient(_column_file(tmp_path), "K", grid=COLUMN), "K") is False
    assert require_nonnegative(_mixed_layer(), "physics.K") is True
    with pytest.raises(ValueError, match="must be nonnegative"):
        require_nonnegative(ExpressionCoefficient("-kappa", ("z",), {"kappa": 1.0}), "physics.K")


def test_nonnegative_samples_expressions_on_the_grid():
    faces = COLUMN.face_coordinates(0)
    nonnegative(_mixed_layer(), "physics.K", faces, [0.0, 100.0, 365.0])
    with pytest.raises(ValueError, match="physics.K must be nonnegative, but expression 'z/50 \\+ 0.5' reaches -0.5"):
        nonnegative(ExpressionCoefficient("z/50 + 0.5", ("z",)), "physics.K", faces, [0.0])
    with pytest.raises(ValueError, match="physics.K: .* is not finite"):
        with np.errstate(all="ignore"):
            nonnegative(ExpressionCoefficient("log(z + 25)", ("z",)), "physics.K", faces, [0.0])
    with pytest.raises(ValueError, match="is not finite"):  # NaN only at the last time
        with np.errstate(all="ignore"):
            nonnegative(ExpressionCoefficient("sqrt(1 - t)", ("z",)), "K", faces, [0.0, 2.0])
    forcing = ExpressionCoefficient("M(t)", ("z",), {}, {"M": TimeTable([0, 5, 10], [1, -1, 1])})
    with pytest.raises(ValueError, match="reaches -1"):
        nonnegative(forcing, "forcing", faces, [0.0, 10.0])  # the knot at t = 5 is sampled
    with pytest.raises(ValueError, match="times must be a non-empty sequence"):
        nonnegative(forcing, "forcing", faces, [])


# --------------------------------------------------------------------------
# case-file values


def _spec(value, **kwargs):
    kwargs = {"dims": ("z",), "parameters": {"kappa": 2.0}, "what": "physics.K", **kwargs}
    return coefficient_from_spec(value, **kwargs)


def test_spec_forms(tmp_path):
    assert _spec(0.5) == Constant(0.5) and _spec(3) == Constant(3.0)
    expression = _spec("kappa * (1 + z/50)")
    assert isinstance(expression, ExpressionCoefficient) and expression.what == "physics.K"
    table = _spec({"t": [0, 180], "values": [-20, -40], "period": 365})
    assert table == _depth_table()
    mixed = _spec({"expression": MIXED_LAYER,
                   "tables": {"M": {"t": [0, 180], "values": [-20, -40], "period": 365}}})
    assert mixed == _mixed_layer()
    _column_file(tmp_path)
    from_file = _spec({"file": "k.nc", "variable": "K"}, base_dir=tmp_path, grid=COLUMN)
    assert from_file == FileCoefficient(tmp_path / "k.nc", "K", grid=COLUMN)
    assert _spec({"file": str(tmp_path / "k.nc"), "variable": "K"}) == from_file
    assert _spec(table) is table


@pytest.mark.parametrize("value, error, fragment", [
    ({"expression": "z", "table": {}}, ValueError,
     "physics.K: unknown key(s) table in a expression coefficient; accepted keys: expression, tables"),
    ({"t": [0, 1], "values": [0, 1], "periodic": True}, ValueError,
     "unknown key(s) periodic in a table coefficient; accepted keys: period, t, values"),
    ({"file": "k.nc"}, ValueError, "missing key(s) variable in a file coefficient"),
    ({"kind": "constant"}, ValueError, "cannot tell the kind of coefficient from the keys kind"),
    ({"file": "k.nc", "expression": "z"}, ValueError, "cannot tell the kind"),
    ({"t": [0, 1], "values": [1]}, ValueError,
     "physics.K: TimeTable: t and values must have the same length"),
    ({"expression": "M(t)", "tables": {"M": {"t": [0, 1], "value": [0, 1]}}}, ValueError,
     "physics.K.tables.M: unknown key(s) value"),
    ({"expression": "M(t)", "tables": {"M": {"t": [1, 0], "values": [0, 1]}}}, ValueError,
     "physics.K.tables.M: TimeTable: t must be strictly increasing"),
    ({"expression": "M(t)", "tables": [1]}, TypeError, "physics.K.tables must map names"),
    ({"file": "", "variable": "K"}, ValueError, "physics.K.file must be a non-empty string"),
    (True, TypeError, "physics.K: expected a number, an expression string"),
    ([1, 2], TypeError, "got list"),
    (float("inf"), ValueError, "physics.K: Constant: value must be finite"),
    ("kappa + q", ExpressionError, "unknown name 'q'"),
])
def test_spec_errors_name_the_field(value, error, fragment):
    with pytest.raises(error) as info:
        _spec(value)
    assert fragment in str(info.value)


def test_spec_missing_file_names_the_field(tmp_path):
    with pytest.raises(FileNotFoundError, match="physics.K: netCDF file .*nope.nc"):
        _spec({"file": "nope.nc", "variable": "K"}, base_dir=tmp_path)


def test_coefficients_are_static_members_of_a_jitted_model(tmp_path):
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Model:
        diffusivity: Coefficient

        def flux(self, t):
            return self.diffusivity.at(COLUMN.face_coordinates(0), t)

    run = jax.jit(lambda model, t: model.flux(t), static_argnums=0)
    for coefficient in [Constant(1.0), _depth_table(), _mixed_layer(),
                        FileCoefficient(_column_file(tmp_path), "K", grid=COLUMN)]:
        model = Model(coefficient)
        expected = np.broadcast_to(coefficient.evaluate(np, COLUMN.face_coordinates(0), 7.0), (11,))
        np.testing.assert_allclose(np.broadcast_to(np.asarray(run(model, 7.0)), (11,)), expected,
                                   rtol=1e-12)
        assert hash(model) == hash(Model(coefficient))


def test_float32_evaluation_under_jit(x32, tmp_path):
    coords = {"z": jnp.asarray(COLUMN.face_coordinates(0)["z"], dtype=jnp.float32)}
    for coefficient in [_mixed_layer(), FileCoefficient(_column_file(tmp_path), "K", grid=COLUMN)]:
        out = jax.jit(lambda t: coefficient.at(coords, t))(jnp.float32(3.0))
        assert out.dtype == jnp.float32
        expected = coefficient.evaluate(np, COLUMN.face_coordinates(0), 3.0)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5)
