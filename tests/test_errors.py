"""One error hierarchy, and the CLI's exit codes from it."""

import importlib
import pkgutil

import pytest

import oceanclosure
from oceanclosure import cli, errors
from oceanclosure.errors import (
    DataFileError,
    InputError,
    MissingFileError,
    OceanClosureError,
    OutputExistsError,
    RunFailedError,
)

#: Raised inside pydantic validators, where pydantic wants a ValueError; never leaves a case load.
INTERNAL = {"_Problems"}


def _package_exceptions():
    found = {}
    for info in pkgutil.walk_packages(oceanclosure.__path__, "oceanclosure."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__ == info.name and name not in INTERNAL):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_package_error_derives_from_one_base():
    found = _package_exceptions()
    assert len(found) > 15  # the walk found the package's classes
    strays = [name for name, cls in found.items()
              if not issubclass(cls, (OceanClosureError, KeyboardInterrupt))]
    assert strays == []


def test_interrupts_are_not_errors():
    """A KeyboardInterrupt subclass that also derived from Exception would be swallowed by `except Exception`."""
    for name, cls in _package_exceptions().items():
        if issubclass(cls, KeyboardInterrupt):
            assert not issubclass(cls, Exception), name


@pytest.mark.parametrize("err, code", [
    (InputError("bad key"), 2),
    (DataFileError("corrupt"), 2),
    (MissingFileError("gone"), 2),
    (OutputExistsError("exists"), 2),
    (RunFailedError("blew up"), 1),
    (PermissionError(13, "Permission denied", "/x"), 2),
    (KeyboardInterrupt(), 130),
    (ValueError("a numpy-level surprise"), 3),
    (KeyError("x"), 3),
    (ZeroDivisionError(), 3),
])
def test_the_cli_maps_classes_to_exit_codes(err, code, monkeypatch, capsys):
    def fail(args):
        raise err

    monkeypatch.setattr(cli, "_dispatch", fail)
    assert cli.main(["run", "anywhere"]) == code
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    assert ("this looks like a bug" in stderr) == (code == 3)
    if isinstance(err, OceanClosureError):  # our own messages are complete: no class name in front
        assert stderr.splitlines() == [f"error: {err}"]


def test_old_names_keep_their_builtin_bases():
    """``except ValueError`` / ``except FileNotFoundError`` around API calls still catch them."""
    assert issubclass(InputError, ValueError) and issubclass(MissingFileError, FileNotFoundError)
    assert issubclass(RunFailedError, RuntimeError) and issubclass(OutputExistsError, FileExistsError)
    assert errors.exit_code(oceanclosure.CaseError("x")) == 2
    assert errors.exit_code(oceanclosure.BlowUpError("x", None)) == 1
