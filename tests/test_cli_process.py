"""The command line as a Unix process: what starting it imports, --version, a closed pipe, and the
line a non-terminal stderr gets before the solver compiles."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import oceanclosure
from oceanclosure import cli, cli_training

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("jax", "xarray", "sympy", "numpy", "scipy", "pydantic", "matplotlib", "rich")


def _python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False, **kwargs)


@pytest.mark.parametrize("statement", ["import oceanclosure", "from oceanclosure import cli; cli._parser()",
                                       "import oceanclosure; oceanclosure.__version__"])
def test_starting_imports_nothing_heavy(statement):
    """`import oceanclosure` and building the CLI parser (all --help and --version need) load no
    jax, xarray, sympy (nor numpy and the other heavy dependencies)."""
    done = _python(f"import json, sys\n{statement}\n"
                   f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_every_public_name_resolves_from_its_home():
    """The lazy names are the objects of their home modules, for `oceanclosure.X` and `from oceanclosure import X`."""
    import importlib

    assert sorted(oceanclosure._HOME_OF) == sorted(oceanclosure.__all__)
    for name in oceanclosure.__all__:
        home = importlib.import_module(f"oceanclosure.{oceanclosure._HOME_OF[name]}")
        assert getattr(oceanclosure, name) is getattr(home, name)
    namespace = {}
    exec("from oceanclosure import *", namespace)  # noqa: S102  (the star import, as a user writes it)
    assert set(oceanclosure.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        oceanclosure.nonexistent  # noqa: B018


def test_a_submodule_sharing_a_public_name_leaves_the_name_to_the_function():
    """`oceanclosure.resolve` is the function even after `oceanclosure.resolve` the module is imported,
    in a fresh process where nothing imported it before (as the eager import gave)."""
    done = _python("import oceanclosure\nimport oceanclosure.resolve\nfrom oceanclosure.resolve import Setup\n"
                   "print(callable(oceanclosure.resolve), type(oceanclosure.resolve).__name__, "
                   "oceanclosure.analysis.__name__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "function", "oceanclosure.analysis"]


def test_export_formats_of_the_parser_are_the_exporters():
    from oceanclosure.export import FORMATS

    assert cli_training.FORMATS == FORMATS


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.split() == ["oceanclosure", oceanclosure.__version__]


# A command that writes far more than a pipe holds (64 KiB), through the real `main`.
_MANY_LINES = ("import sys\nfrom oceanclosure import cli\n"
               "cli._dispatch = lambda args: [print('line', i) for i in range(10**6)] and 0\n"
               "sys.exit(cli.main(['run', 'anywhere']))\n")


def test_a_reader_that_goes_away_stops_the_command_quietly():
    """`oceanclosure ... | head -1`: the reader closes the pipe after one line; no message, rc 0 or 141."""
    proc = subprocess.Popen([sys.executable, "-c", _MANY_LINES], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "line 0\n"
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode in (0, cli.EXIT_BROKEN_PIPE)
    assert stderr == ""


def test_a_broken_pipe_that_is_not_stdout_is_an_error():
    """A BrokenPipeError from another pipe (a worker, a socket) while stdout is open is not a reader going away."""
    code = ("import sys; from oceanclosure import cli\n"
            "def fail(args): raise BrokenPipeError(32, 'Broken pipe')\n"
            "cli._dispatch = fail\n"
            "sys.exit(cli.main(['run', 'anywhere']))")
    proc = _python(code)
    assert proc.returncode == cli.EXIT_INTERNAL
    assert "BrokenPipeError" in proc.stderr and "this looks like a bug" in proc.stderr


def test_help_into_a_closed_pipe_is_quiet():
    """The parser's own output (--help) meets a pipe whose reader is already gone: no message either."""
    proc = subprocess.Popen([sys.executable, "-m", "oceanclosure.cli", "--help"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode in (0, cli.EXIT_BROKEN_PIPE)
    assert stderr == ""


def test_the_compilation_is_announced_once_before_the_first_step(capsys):
    """On a stderr that is not a terminal (captured here), `run` and `train` say one line before their
    first step, which compiles and can take a minute."""
    with cli._progress() as progress:
        assert capsys.readouterr().err == cli.COMPILING + "\n"
        progress(0.5, 1.0)
        progress(1.0, 1.0)
    assert capsys.readouterr().err == ""
    with cli_training._TrainingProgress(2) as progress:
        assert capsys.readouterr().err == cli.COMPILING + "\n"
        progress(1, 0.5, 0.25)
    assert cli.COMPILING not in capsys.readouterr().err
