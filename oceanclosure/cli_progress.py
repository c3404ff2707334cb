"""Progress on the console: a rich bar on a terminal; elsewhere (a log, a pipe) plain lines.

Before the first step of long work a command that does not write to a terminal
says `COMPILING` once, so that a log is not silent while XLA compiles the solver.
Importing this module imports nothing heavy (rich only when a bar is shown).
"""

from __future__ import annotations

import sys

#: What a command says on a stderr that is not a terminal (a log, a pipe) before its first step,
#: which compiles the solver and can take a minute in silence otherwise.
COMPILING = "compiling the solver (the first step can take a minute) ..."


def announce_compiling() -> None:
    """Say `COMPILING` on stderr when it is not a terminal (where a progress bar shows instead)."""
    if not sys.stderr.isatty():
        print(COMPILING, file=sys.stderr, flush=True)


class _Bar:
    """The context of a progress display: announces the compilation, starts and stops the bar."""

    label = "working"

    def __init__(self, total: float = 1.0):
        self.total = total

    def __enter__(self):
        self._bar = None
        announce_compiling()
        if sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def _show(self, completed: float, text: str) -> bool:
        """Update the bar; False when there is none (then the caller may print a line)."""
        if self._bar is None:
            return False
        self._bar.update(self._task, completed=completed, description=text)
        return True

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        return False


class RunProgress(_Bar):
    """``progress(t, stop)`` of a run: the bar only (a run's log gets its summary at the end)."""

    label = "integrating"

    def __call__(self, t: float, stop: float):
        self._show(t / stop, f"t = {t:.4g} / {stop:g}")


class TrainingProgress(_Bar):
    """``progress(step, loss, validation)`` of a training: the bar, or a line every tenth of the steps."""

    label = "training"

    def __call__(self, step: int, loss: float, validation: float):
        text = f"step {step}/{self.total} loss {loss:.4g} validation {validation:.4g}"
        if not self._show(step, text) and (step % max(1, self.total // 10) == 0 or step == self.total):
            print(text, file=sys.stderr)
