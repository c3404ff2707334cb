"""Every shell command in the README (and docs/) runs verbatim: it survives the shell's word splitting,
quoting and globbing as written, and the oceanclosure ones parse with the CLI's own argument parser.
Nothing is executed.

Which text is a command:

* a fenced block tagged ``bash``, ``sh`` or ``shell``: every line (``\\`` continues a line, ``#`` starts a
  comment); ``console``: the lines after a ``$ `` prompt;
* an untagged fenced block: its lines that start with ``oceanclosure``, ``.venv/bin/``, ``python`` or ``$ ``
  (the rest is program output or mathematics);
* an inline code span that starts with ``oceanclosure `` and has at least a command and an argument
  (```oceanclosure train``` alone names the command), or with ``--set `` (an option to paste).

Blocks tagged ``text`` (usage synopses with ``[OPTIONAL]`` and ``{a,b}``, program output) are not commands.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from oceanclosure import cli

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_TAGS = ("bash", "sh", "shell")
COMMAND_STARTS = ("oceanclosure", ".venv/bin/", "python", "$ ")
#: Characters the shell treats specially when they are not quoted; a command that means them literally
#: must quote them. (The separators && || | ; are allowed between commands.)
SPECIAL = set("()<>*?[]{}$`~!\\")
SEPARATORS = ("&&", "||", "|", ";")
FENCE = re.compile(r"^\s*```\s*([\w+-]*)")
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def _unquoted(command: str) -> tuple[str, list[str]]:
    """The unquoted characters of ``command`` (a quoted or escaped character reads as a space) and its
    simple commands, split at unquoted separators; comments are dropped."""
    plain, parts, current, quote, i = [], [], [], None, 0
    while i < len(command):
        c = command[i]
        if quote is None and c == "#" and (i == 0 or command[i - 1].isspace()):
            break
        if quote is None and command.startswith(SEPARATORS, i) and not command.startswith("|&", i):
            sep = next(s for s in SEPARATORS if command.startswith(s, i))
            parts.append("".join(current))
            current, i = [], i + len(sep)
            plain.append(" ")
            continue
        current.append(c)
        if quote is None and c == "\\" and i + 1 < len(command):
            current.append(command[i + 1])
            plain.append("  ")
            i += 2
            continue
        if quote is None and c in "'\"":
            quote = c
            plain.append(" ")
        elif quote is not None and c == quote:
            quote = None
            plain.append(" ")
        elif quote == '"' and c == "\\" and i + 1 < len(command):
            current.append(command[i + 1])
            plain.append("  ")
            i += 1
        else:
            plain.append(c if quote is None else " ")
        i += 1
    assert quote is None, f"unbalanced quote in: {command}"
    parts.append("".join(current))
    return "".join(plain), [p.strip() for p in parts if p.strip()]


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """Lines with their ``\\`` continuations joined, each with the number of its first line."""
    joined, start, pending = [], None, ""
    for number, line in lines:
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append((start, pending + line))
        start, pending = None, ""
    if pending:
        joined.append((start, pending))
    return joined


def _block_commands(tag: str, body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    commands = []
    for number, line in _logical_lines(body):
        text = line.strip()
        if tag == "console" or (tag == "" and text.startswith("$ ")):
            if text.startswith("$ "):
                commands.append((number, text[2:]))
        elif (tag in SHELL_TAGS or (tag == "" and text.startswith(COMMAND_STARTS))) and text \
                and not text.startswith("#"):
            commands.append((number, text))
    return commands


def commands_in(path: Path) -> list[tuple[str, str, str]]:
    """``(where, kind, command)`` for every command in the markdown file; kind is "block" or "inline"."""
    found, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            for span in INLINE.findall(lines[i]):
                if span.startswith("--set ") or (span.startswith("oceanclosure ") and len(span.split()) >= 3):
                    found.append((f"{path.name}:{i + 1}", "inline", span))
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```"))
        body = [(n + 1, lines[n]) for n in range(i + 1, end)]
        found += [(f"{path.name}:{n}", "block", c) for n, c in _block_commands(fence.group(1).lower(), body)]
        i = end + 1
    return found


COMMANDS = [c for path in DOCUMENTS for c in commands_in(path)]


def _problems(command: str) -> list[str]:
    """What the shell would do to ``command`` that its author did not mean, and what the parser refuses."""
    plain, simple = _unquoted(command)
    problems = [f"unquoted {c!r} (the shell expands or parses it; quote the word)" for c in sorted(set(plain) & SPECIAL)]
    for part in simple:
        words = shlex.split(part, comments=True)
        if words and (words[0] == "oceanclosure" or words[0].endswith("/oceanclosure")):
            problems += _cli_problems(words[1:])
        elif words[:1] and words[0].startswith(("python", ".venv/bin/python")) and words[1:2] != ["-m"]:
            script = next((w for w in words[1:] if not w.startswith("-")), None)
            if script is not None and not (REPO / script).is_file():
                problems.append(f"{script} is not a file of the repository")
    return problems


def _cli_problems(argv: list[str]) -> list[str]:
    try:
        args = cli._parser().parse_args(argv)
    except SystemExit as stop:
        return [] if stop.code == 0 else [f"the oceanclosure parser refuses {argv}"]
    case = getattr(args, "case", None)
    if case is not None and not str(case).isupper() and not (REPO / case / "case.toml").is_file() \
            and (REPO / case).suffix != ".toml":
        return [f"{case} is not a case directory of the repository"]
    return []


def _inline_problems(span: str) -> list[str]:
    """A pasted ``--set KEY=VALUE`` is one option and one word, and an option of every command that takes it."""
    if not span.startswith("--set "):
        return _problems(span)
    words = shlex.split(span)
    if len(words) != 2 or "=" not in words[1]:
        return [f"the shell splits it into {words}: quote the KEY=VALUE word"]
    return _problems(f"oceanclosure run CASE_DIR {span}")


def test_the_documents_have_commands():
    """The extraction finds the commands it is for (a broken extractor would check nothing)."""
    kinds = {kind for _, kind, _ in COMMANDS}
    texts = [c for _, _, c in COMMANDS]
    assert kinds == {"block", "inline"}
    assert any(c.startswith("oceanclosure evaluate cases/burgers_advecting_shock --set") for c in texts)
    assert any("initial_condition.expression" in c for c in texts)


@pytest.mark.parametrize("where, kind, command", COMMANDS, ids=[f"{w}:{c[:40]}" for w, _, c in COMMANDS])
def test_every_command_runs_verbatim(where, kind, command):
    problems = _inline_problems(command) if kind == "inline" else _problems(command)
    assert not problems, f"{where}: {command}\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("command, needle", [
    ("oceanclosure run cases/burgers_advecting_shock --set initial_condition.expression=x*(1-x)", "'('"),
    ("--set initial_condition.expression=x*(1-x)", "'('"),
    ("--set boundary.left={kind=\"dirichlet\", value=1.0}", "quote the KEY=VALUE word"),
    ("oceanclosure train CASE_DIR [--resume | --overwrite]", "'['"),
    ("oceanclosure discover CASE_DIR --export {latex,sympy}", "'{'"),
    ("oceanclosure run cases/burgers_advecting_shock --frobnicate", "parser refuses"),
    ("oceanclosure run cases/no_such_case", "not a case directory"),
    ("python benchmarks/no_such_script.py", "not a file"),
])
def test_the_checks_catch_what_the_shell_would_break(command, needle):
    """Each kind of mistake is caught; the quoted forms pass."""
    assert any(needle in p for p in _inline_problems(command)), _inline_problems(command)


@pytest.mark.parametrize("command", [
    "oceanclosure run cases/burgers_advecting_shock --set 'initial_condition.expression=x*(1-x)'",
    "--set 'boundary.left={kind=\"dirichlet\", value=1.0}'",
    "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/oceanclosure --version",
    "oceanclosure run cases/burgers_advecting_shock   # a comment (with parentheses)",
])
def test_quoted_commands_pass(command):
    assert _inline_problems(command) == []
