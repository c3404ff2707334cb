"""CLI error messages speak the command line's words (``--overwrite``), never the Python API's
(``overwrite=True``, ``load_truth(...)``)."""

import re
from pathlib import Path

import tomli_w

from oceanclosure import cli

#: Python API wording: a keyword argument (``overwrite=True``) or a call (``load_truth(...)``, ``f()``).
API_WORDS = re.compile(r"\b[a-z_]+=(True|False|None)\b|\b[a-z_]+\((\.\.\.|\))")

SHOCK = {
    "grid": {"domain": [0.0, 1.25], "nx": 25},
    "boundary": {"left": {"kind": "dirichlet", "value": 0.0}, "right": {"kind": "neumann"}},
    "physics": {"model": "burgers", "nu": 0.01, "scheme": "upwind"},
    "truth": {"fine": {"refine": 2}},  # a stored truth, which goes stale when the case changes
    "initial_condition": {"expression": "x / (1 + exp(25*x**2 - 6.25))"},
    "time": {"stop": 0.2, "output_interval": 0.1},
}


def _case(directory: Path, nu: float = 0.01) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "case.toml").write_text(tomli_w.dumps({**SHOCK, "physics": {**SHOCK["physics"], "nu": nu}}))
    return directory


def _error(capsys, *argv) -> str:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT, err
    return err


def test_the_api_words_pattern_finds_what_it_is_for():
    assert API_WORDS.search("pass --overwrite (overwrite=True) to replace it")
    assert API_WORDS.search("(load_truth(..., overwrite=True))")
    assert not API_WORDS.search("pass --overwrite to replace it; --set physics.nu=0.02 (t = 0.5)")


def test_refusals_to_overwrite_say_the_option_only(tmp_path, capsys):
    case = _case(tmp_path / "shock")
    out = tmp_path / "run.nc"
    out.write_bytes(b"")
    messages = [_error(capsys, "run", str(case), "--out", str(out), "--no-plot")]
    assert cli.main(["truth", str(case)]) == 0
    messages.append(_error(capsys, "truth", str(case)))
    _case(tmp_path / "shock", nu=0.02)  # the stored truth is now stale
    messages.append(_error(capsys, "run", str(case), "--out", str(tmp_path / "other.nc"), "--no-plot"))
    assert "other case settings" in messages[-1]
    for message in messages:
        assert "--overwrite" in message
        assert not API_WORDS.search(message), message
