"""Regenerate the shipped-case regression data in this folder.

    python tests/data/generate_regression.py [--check]

For every case in ``cases/``, runs it as ``oceanclosure.run`` does (its own
closure, its own truth), on the CPU, with ``time.stop`` cut to
``REGRESSION_STOP`` output intervals so the file stays small, and stores every
data variable of the output dataset (``u``, ``u_truth`` where there is one) in
``<case>.npz``. ``checksums.json`` holds the SHA-256 of each array's bytes, the
overrides used, and the git revision and package versions that produced them.

The files were first produced by main at commit 007b558 (before the multi-field
core), so ``tests/test_regression.py`` checks that the core rewrite leaves the
shipped cases' results alone, or changes them only where it says so.
``--check`` compares a fresh run against the stored files instead of writing.
``--add NAME`` stores a case that is new since then (and only it), with the
provenance of the commit that stored it under its own ``provenance`` key, so the
original files stay as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REGRESSION_STOP = 20  # output intervals


def case_dirs() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "cases").glob("*/case.toml"))


def overrides_for(case) -> list[str]:
    stop = min(case.time.stop, case.time.start + REGRESSION_STOP * case.time.output_interval)
    return [f"time.stop={stop!r}"]


def run_case(case_dir: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    import oceanclosure

    case = oceanclosure.load_case(case_dir)
    overrides = overrides_for(case)
    ds = oceanclosure.run(case.with_overrides(overrides))
    arrays = {name: np.asarray(ds[name].values) for name in ds.data_vars}
    arrays["time"] = np.asarray(ds["time"].values)
    return arrays, overrides


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def provenance() -> dict:
    import jax

    import oceanclosure

    try:
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                  text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        revision = "unknown"
    return {"git_revision": revision, "oceanclosure": oceanclosure.__version__, "jax": jax.__version__,
            "numpy": np.__version__, "backend": jax.default_backend()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare against the stored files, write nothing")
    parser.add_argument("--add", metavar="NAME", help="store only this case, new since the stored files")
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_platforms", "cpu")
    if args.add:
        return add_case(args.add)
    sums = {"provenance": provenance(), "cases": {}}
    failed = []
    for case_dir in case_dirs():
        arrays, overrides = run_case(case_dir)
        name = case_dir.name
        sums["cases"][name] = {"overrides": overrides, "sha256": {k: sha256(v) for k, v in arrays.items()}}
        if args.check:
            stored = np.load(HERE / f"{name}.npz")
            same = all(k in stored and np.array_equal(stored[k], v) for k, v in arrays.items())
            print(f"{name}: {'identical' if same else 'DIFFERENT'}")
            failed += [] if same else [name]
        else:
            np.savez_compressed(HERE / f"{name}.npz", **arrays)
            print(f"{name}: wrote {', '.join(arrays)}")
    if not args.check:
        (HERE / "checksums.json").write_text(json.dumps(sums, indent=2) + "\n")
    return 1 if failed else 0


def add_case(name: str) -> int:
    """Store the output of the new case ``name`` beside the others, with its own provenance."""
    path = HERE / "checksums.json"
    sums = json.loads(path.read_text())
    if name in sums["cases"]:
        print(f"{name} is stored already; its data are the reference and are not replaced", file=sys.stderr)
        return 1
    if not (ROOT / "cases" / name / "case.toml").is_file():
        print(f"no case cases/{name}/case.toml", file=sys.stderr)
        return 1
    arrays, overrides = run_case(ROOT / "cases" / name)
    np.savez_compressed(HERE / f"{name}.npz", **arrays)
    sums["cases"][name] = {"overrides": overrides, "sha256": {k: sha256(v) for k, v in arrays.items()},
                           "provenance": provenance()}
    path.write_text(json.dumps(sums, indent=2) + "\n")
    print(f"{name}: wrote {', '.join(arrays)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
