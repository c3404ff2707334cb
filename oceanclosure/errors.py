"""The errors oceanclosure raises on purpose, and what the command line makes of them.

Every error the package raises for a reason it can name derives from
`OceanClosureError`, and its class says which exit code the CLI gives it:

=====================  ===  ==============================================================
class                  rc   meaning
=====================  ===  ==============================================================
`InputError`           2    bad input: a case key, an option, an argument, a value
`InputTypeError`       2    the same, a value of the wrong type
`DataFileError`        2    a file that is missing, unreadable, corrupt or does not match
`MissingFileError`     2    a file that does not exist
`OutputExistsError`    2    refusing to replace a file without ``--overwrite``
`RunFailedError`       1    a run or a training that started and failed: a blow-up, the
                            growth bound, a diverged optimisation
=====================  ===  ==============================================================

They keep the built-in class they replace as a second base (`InputError` is a
`ValueError`, `MissingFileError` a `FileNotFoundError`, `RunFailedError` a
`RuntimeError`), so ``except ValueError`` around an API call still works. Any
other exception reaching the CLI is a bug (rc 3, "this looks like a bug").

An interrupt (SIGINT) is not an error: the classes that carry a stopped run's
partial result (`simulation.SimulationInterrupted`, `runner.RunInterrupted`,
`training.trainer.TrainingInterrupted`) are `KeyboardInterrupt`\\ s, so that no
``except Exception`` swallows them. The CLI gives them rc 130.
"""

from __future__ import annotations

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class OceanClosureError(Exception):
    """The base of every error oceanclosure raises on purpose; ``exit_code`` is the CLI's status for it."""

    exit_code = EXIT_INTERNAL


class InputError(OceanClosureError, ValueError):
    """Bad input: a case key, an option or a value; the message names it and the fix."""

    exit_code = EXIT_BAD_INPUT


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong type (a str where a list of names belongs, ...)."""


class DataFileError(InputError):
    """A file that is missing, unreadable, corrupt, or does not match what reads it."""


class MissingFileError(DataFileError, FileNotFoundError):
    """A file that does not exist."""


class OutputExistsError(InputError, FileExistsError):
    """Refusing to replace an existing file without ``overwrite``."""


class RunFailedError(OceanClosureError, RuntimeError):
    """A run or a training that started and could not finish (blow-up, growth bound, divergence)."""

    exit_code = EXIT_RUN_FAILED


def exit_code(err: BaseException) -> int:
    """The CLI's exit status for ``err``: its class's, 130 for an interrupt, 2 for an OS-level file
    problem (no permission, a directory where a file belongs, a full disk), else 3 (a bug)."""
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(err, OceanClosureError):
        return err.exit_code
    if isinstance(err, OSError) and _is_file_problem(err):
        return EXIT_BAD_INPUT
    return EXIT_INTERNAL


def _is_file_problem(err: OSError) -> bool:
    import errno

    return isinstance(err, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)) or \
        err.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT)
