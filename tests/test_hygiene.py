"""Library hygiene: collinear pairs, condition numbers and zero terms against hand computation."""

import numpy as np
import pytest

from oceanclosure.training.hygiene import collinear_terms, collinearity_warnings, condition_number, zero_terms

A = np.array([1.0, 2.0, 0.0, 0.0])
E = np.array([1.0, 1.0, 0.0, 0.0])   # cos(A, E) = 3 / sqrt(10) = 0.9487
D = np.array([0.0, 0.0, 3.0, 1.0])   # orthogonal to A and E


def test_exactly_collinear_pairs_come_first_with_their_sign():
    values = {"a": A, "twice": 2 * A, "minus": -3 * A, "e": E, "d": D, "zero": np.zeros(4)}
    pairs = collinear_terms(values, threshold=0.9)
    assert [(p[0], p[1]) for p in pairs[:3]] == [("a", "twice"), ("a", "minus"), ("twice", "minus")]
    assert [p[2] for p in pairs[:3]] == pytest.approx([1.0, -1.0, -1.0], abs=1e-15)
    assert [(p[0], p[1]) for p in pairs[3:]] == [("a", "e"), ("twice", "e"), ("minus", "e")]
    assert [p[2] for p in pairs[3:]] == pytest.approx([3 / np.sqrt(10), 3 / np.sqrt(10), -3 / np.sqrt(10)])
    assert all("d" not in p[:2] and "zero" not in p[:2] for p in pairs)


def test_threshold_is_inclusive_and_cuts_below():
    assert collinear_terms({"a": A, "e": E}) == []  # 0.9487 < 0.95
    assert len(collinear_terms({"a": A, "e": E}, threshold=3 / np.sqrt(10) - 1e-12)) == 1
    assert collinear_terms({"a": A, "d": D}, threshold=1e-9) == []


def test_correlation_is_uncentred_so_nearly_constant_terms_are_collinear():
    """Two offsets with independent small wiggles: Pearson ≈ 0, but as regressors they are the same constant."""
    rng = np.random.default_rng(0)
    one, two = 1 + 0.01 * rng.normal(size=(5, 200)), 1 + 0.01 * rng.normal(size=(5, 200))
    assert abs(np.corrcoef(one.ravel(), two.ravel())[0, 1]) < 0.1
    ((a, b, rho),) = collinear_terms({"one": one, "two": two})
    assert (a, b) == ("one", "two") and rho > 0.999


def test_condition_number_of_unit_rms_columns_by_hand():
    x1, x2 = np.array([1.0, 1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0, -1.0])
    # XᵀX/4 = [[1, 1/2], [1/2, 1]]: eigenvalues 3/2 and 1/2, so κ = sqrt(3)
    assert condition_number({"x1": x1, "x2": x2}) == pytest.approx(np.sqrt(3), rel=1e-12)
    assert condition_number({"x1": x1, "x2": 1e3 * x2}) == pytest.approx(np.sqrt(3), rel=1e-12)  # scale-free
    assert condition_number({"a": A, "d": 1e-6 * D}) == pytest.approx(1.0, rel=1e-12)
    assert condition_number({"a": A, "twice": 2 * A}) > 1e12
    assert condition_number({"a": A, "zero": np.zeros(4)}) == np.inf
    assert condition_number({"a": A[:1], "e": E[:1]}) == np.inf  # fewer data than terms


def test_warnings_name_terms_correlation_zero_terms_and_condition():
    values = {"u*u_x": A, "u**2*u_x": 2 * A + 1e-3 * D, "u_xxx": D, "dx*u_x**2": np.zeros((2, 2))}
    warnings = collinearity_warnings(values)
    rho = 2 * A @ A / (np.linalg.norm(A) * np.linalg.norm(2 * A + 1e-3 * D))
    assert len(warnings) == 3
    assert warnings[0].startswith("library term 'dx*u_x**2' is identically zero on the training data")
    assert warnings[1].startswith(f"library terms 'u*u_x' and 'u**2*u_x' are nearly collinear on the training "
                                  f"data (correlation {rho:.3f})")
    assert "trade off" in warnings[1]
    assert "condition number" in warnings[2] and "> 1e+03" in warnings[2]


def test_no_warnings_for_a_well_posed_library():
    assert collinearity_warnings({"a": A, "d": D, "e": E}) == []
    assert zero_terms({"a": A, "d": D}) == []
    assert collinearity_warnings({"a": A, "e": E}, max_condition=2.0)[0].startswith(
        "the library's design matrix (columns scaled to unit RMS) has condition number")


def test_bad_input_is_refused_with_the_names():
    with pytest.raises(ValueError, match=r"same number of values, got \{'a': 4, 'b': 3\}"):
        collinear_terms({"a": A, "b": A[:3]})
    with pytest.raises(ValueError, match=r"terms \['b'\] have non-finite values"):
        condition_number({"a": A, "b": np.array([1.0, np.nan, 0.0, 0.0])})
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\], got 1.5"):
        collinear_terms({"a": A}, threshold=1.5)
    with pytest.raises(ValueError, match="at least one term"):
        collinearity_warnings({})
