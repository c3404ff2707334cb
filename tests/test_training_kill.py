"""Fault tests of `oceanclosure train` as a process: SIGKILL at seeded random moments, then ``--resume``, ends
bit-identical to an uninterrupted run; SIGINT keeps the last completed step as a checkpoint and exits 130.

Each ``train`` runs 40 steps of a small case (checkpoints every 7 steps, a progress line every 4). A kill
comes after a random number of progress lines and a random fraction of the time between two of them (as the
uninterrupted run took it), so it may land in a step or in a checkpoint's save. The processes share a JAX
compilation cache, so that only the first one compiles.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_training_reliability import SMALL_CASE, _arrays, _assert_identical

REPO = Path(__file__).resolve().parents[1]
KILL_CASE = SMALL_CASE.replace("steps = 20", "steps = 40")


def _command(case_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "oceanclosure.cli", "train", str(case_dir), *extra]


def _train(case_dir: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(case_dir, *extra), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def _start(case_dir: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(_command(case_dir), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_progress(proc: subprocess.Popen, lines: int) -> None:
    """Read the process's stderr until its ``lines``-th progress line ("step k/40 ...")."""
    seen = 0
    for line in proc.stderr:
        seen += line.startswith("step ")
        if seen == lines:
            return
    raise AssertionError(f"train ended (rc {proc.wait()}) before {lines} progress lines")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: (root, environment, its parameter arrays, seconds between progress lines)."""
    root = tmp_path_factory.mktemp("kill")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": str(root / "jax-cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    case_dir = root / "straight"
    case_dir.mkdir()
    (case_dir / "case.toml").write_text(KILL_CASE)
    proc = _start(case_dir, env)
    lines, stamps = [], []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("step "):
            stamps.append(time.perf_counter())
    proc.stderr.close()
    assert proc.wait(timeout=600) == 0 and len(stamps) == 10, "".join(lines)[-3000:]
    assert (case_dir / "checkpoints").is_dir()
    return root, env, _arrays(case_dir), (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def _fresh(root: Path, name: str) -> Path:
    case_dir = root / name
    case_dir.mkdir()
    (case_dir / "case.toml").write_text(KILL_CASE)
    shutil.copytree(root / "straight" / "truth", case_dir / "truth")  # the truth need not be made again
    return case_dir


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_at_a_random_moment_then_resume_is_bit_identical(reference, seed):
    """Seeds 0, 1, 2 kill after progress lines 7, 3 and 1 (steps 28, 12, 4): past several checkpoints, past
    one, before any (then ``--resume`` says so and starts from step 0; tested without a kill in
    test_training_reliability)."""
    root, env, straight, interval = reference
    case_dir = _fresh(root, f"killed-{seed}")
    rng = random.Random(seed)
    lines, fraction = rng.randint(1, 8), rng.random()
    proc = _start(case_dir, env)
    try:
        _wait_for_progress(proc, lines)
        time.sleep(fraction * interval)
        assert proc.poll() is None, "train finished before the kill"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.stderr.close()
    assert not (case_dir / "closure" / "parameters.npz").exists()
    resumed = _train(case_dir, env, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_identical(_arrays(case_dir), straight)


def test_sigint_keeps_the_last_completed_step_and_resume_finishes_it(reference):
    root, env, straight, _ = reference
    case_dir = _fresh(root, "interrupted")
    proc = _start(case_dir, env)
    try:
        _wait_for_progress(proc, 3)  # step 12 of 40
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=120) == 130, rest[-3000:]
    finally:
        proc.kill()
        proc.stderr.close()
    said = [line for line in rest.splitlines() if line.startswith("interrupted after step")]
    assert len(said) == 1 and "of 40" in said[0], rest
    assert f"to continue it: oceanclosure train {case_dir} --resume" in rest.splitlines(), rest
    step = int(said[0].split()[3])
    assert 12 <= step < 40 and (case_dir / "checkpoints" / str(step)).is_dir()
    assert not (case_dir / "closure" / "parameters.npz").exists()
    resumed = _train(case_dir, env, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_identical(_arrays(case_dir), straight)
