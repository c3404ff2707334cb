"""Every shipped case reproduces its stored output (tests/data, see generate_regression.py).

The stored arrays were produced by main before the multi-field core. A case
listed in ``CHANGED`` has an intended change in its path; it is compared within
the stated tolerance, and the reason is given. All others must be bit-identical.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA))
import generate_regression  # noqa: E402

SUMS = json.loads((DATA / "checksums.json").read_text())

#: case -> (relative tolerance on the max-norm of each array, why it changed)
CHANGED: dict[str, tuple[float, str]] = {}


def test_stored_files_match_their_checksums():
    for name, entry in SUMS["cases"].items():
        stored = np.load(DATA / f"{name}.npz")
        for key, digest in entry["sha256"].items():
            assert hashlib.sha256(np.ascontiguousarray(stored[key]).tobytes()).hexdigest() == digest, (name, key)


def test_every_shipped_case_has_stored_output():
    assert sorted(SUMS["cases"]) == sorted(p.name for p in generate_regression.case_dirs())


@pytest.mark.parametrize("case_dir", generate_regression.case_dirs(), ids=lambda p: p.name)
def test_shipped_case_reproduces_stored_output(case_dir, x32):
    """In JAX's default 32-bit mode, as the files were made (other modules switch x64 on)."""
    arrays, overrides = generate_regression.run_case(case_dir)
    assert overrides == SUMS["cases"][case_dir.name]["overrides"]
    stored = np.load(DATA / f"{case_dir.name}.npz")
    assert sorted(arrays) == sorted(stored.files)
    tolerance = CHANGED.get(case_dir.name, (0.0, ""))[0]
    for key in stored.files:
        if tolerance == 0.0:
            assert np.array_equal(arrays[key], stored[key]), f"{case_dir.name}: {key} is not bit-identical"
        else:
            scale = np.max(np.abs(stored[key]))
            assert np.max(np.abs(arrays[key] - stored[key])) <= tolerance * scale, f"{case_dir.name}: {key}"
