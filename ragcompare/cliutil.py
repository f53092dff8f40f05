"""What every ragcompare command line shares: argument validators and the way a command ends.

* :class:`Parser` is argparse whose errors are one ``ragcompare: error: ...`` line (exit status 2);
  every (sub)parser accepts ``--debug``.
* The ``type=`` validators (:func:`integer`, :func:`positive_int`, :func:`non_negative_int`,
  :func:`number`, :func:`positive_number`, :func:`choice`, :func:`choice_list`, :func:`alpha_list`,
  :func:`output_file`, :func:`output_dir`, :func:`new_file`) check a value while the command line
  is parsed, with the checks of :mod:`ragcompare.checks`, so nothing starts with a value that would
  fail later; an output path is checked writable (:func:`ragcompare.storage.check_writable`)
  before any work.
* :func:`run_command` parses, runs, and turns whatever ends the run into an exit status and at most
  one line on stderr: a user error (any :class:`~ragcompare.types.RagCompareError`, or a refused
  argument) exits 2, Ctrl-C exits 130, anything unexpected exits 1 with its type and message and a
  hint to rerun with ``--debug``, which also prints the traceback.

Used by ``ragcompare`` (:mod:`ragcompare.cli`), ``ragcompare recommend|calibrate``
(:mod:`ragcompare.decide.cli`) and ``python -m ragcompare.train`` (:mod:`ragcompare.train.cli`).
Lowest layer: imports only :mod:`ragcompare.types`, :mod:`ragcompare.checks` and
:mod:`ragcompare.storage`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from ragcompare.checks import check_alpha, check_choice, check_float, check_int
from ragcompare.storage import ArtifactError, check_writable
from ragcompare.types import InvalidInputError, RagCompareError

T = TypeVar("T")
PREFIX = "ragcompare: error: "
DEBUG_FLAG = "--debug"
DEBUG_HINT = f"(rerun with {DEBUG_FLAG} for the traceback)"
EXIT_USER_ERROR, EXIT_UNEXPECTED, EXIT_INTERRUPTED = 2, 1, 130


class UsageError(RagCompareError):
    """A command-line argument argparse refused (unknown option, missing or invalid value)."""


class Parser(argparse.ArgumentParser):
    """argparse, whose errors raise :class:`UsageError` (one line, pointing to ``--help``) instead of
    printing the usage and exiting; every parser and subparser accepts ``--debug``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument(DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS,
                          help="show the traceback of an unexpected error")

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())


def _refused(error: InvalidInputError) -> argparse.ArgumentTypeError:
    """A check's message without its (empty) parameter name: argparse names the argument."""
    return argparse.ArgumentTypeError(str(error).strip())


def _validator(name: str, parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` with :class:`InvalidInputError` turned into argparse's refusal; named ``name``."""

    def check(text: str) -> T:
        try:
            return parse(text)
        except InvalidInputError as e:
            raise _refused(e) from None

    check.__name__ = name
    return check


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInputError(f"expected a whole number, got {text!r}") from None


def _parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InvalidInputError(f"expected a number, got {text!r}") from None


# -- numbers ----------------------------------------------------------------------------------
def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """``type=`` for a whole number in ``[minimum, maximum]`` (:func:`ragcompare.checks.check_int`)."""
    return _validator("integer", lambda text: check_int(_parse_int(text), "", minimum, maximum))


positive_int = integer(1)
"""``type=`` for a whole number >= 1."""
non_negative_int = integer(0)
"""``type=`` for a whole number >= 0."""


def number(minimum: float | None = None, maximum: float | None = None,
           positive: bool = False) -> Callable[[str], float]:
    """``type=`` for a finite number in ``[minimum, maximum]`` (``positive``: also > 0); inf, nan and
    values too large for a float (``1e400``) are refused (:func:`ragcompare.checks.check_float`)."""
    return _validator("number", lambda text: check_float(_parse_float(text), "", minimum, maximum,
                                                         positive))


positive_number = number(positive=True)
"""``type=`` for a finite number > 0."""


# -- choices ----------------------------------------------------------------------------------
def choice(choices: Iterable[str]) -> Callable[[str], str]:
    """``type=`` for one of ``choices`` (case and surrounding spaces ignored)."""
    options = tuple(choices)
    return _validator("choice", lambda text: check_choice(text.strip().lower(), "", options))


def _items(text: str) -> list[str]:
    items = [x.strip() for x in text.split(",")]
    if not any(items) or not all(items):
        raise InvalidInputError(f"expected a comma-separated list without empty items, got {text!r}")
    return list(dict.fromkeys(items))  # in order, each once


def choice_list(choices: Iterable[str]) -> Callable[[str], list[str]]:
    """``type=`` for a comma-separated list of ``choices`` (each kept once, in order)."""
    options = tuple(choices)
    return _validator("choice_list", lambda text: [check_choice(x, "", options)
                                                   for x in _items(text)])


alpha_list = _validator("alpha_list", lambda text: [check_alpha(_parse_float(x))
                                                    for x in _items(text)])
"""``type=`` for comma-separated interpolation weights, each in [0, 1] (``0.3,0.5``)."""


# -- paths ------------------------------------------------------------------------------------
def _writable(text: str, probe: Callable[[Path], Path]) -> str:
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    try:
        return str(probe(Path(text).expanduser()))
    except ArtifactError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _probe_dir(path: Path) -> Path:
    """``path``, a folder to write into (created later if missing), if it can be; nothing is created."""
    if path.exists() and not path.is_dir():
        raise ArtifactError(f"output folder {path} is a file")
    base = path
    while not base.exists():  # the folder is created later: its nearest existing ancestor counts
        base = base.parent
    if not base.is_dir():
        raise ArtifactError(f"output folder {path}: {base} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=base))
    except OSError as e:
        raise ArtifactError(f"output folder {path} cannot be written: {e.strerror or e}") from None
    return path


def _probe_new_file(path: Path) -> Path:
    if path.is_dir():
        raise ArtifactError(f"output {path} is a folder; give a file name")
    _probe_dir(path.parent)
    return check_writable(path) if path.parent.is_dir() else path


def output_file(text: str) -> str:
    """``type=`` for a file to write: its folder must exist and be writable, checked now (before
    any work) with :func:`ragcompare.storage.check_writable`."""
    return _writable(text, check_writable)


def output_dir(text: str) -> str:
    """``type=`` for a folder to write into (created later if missing): it must not be a file, and
    it or its nearest existing ancestor must be a writable folder. Nothing is created."""
    return _writable(text, _probe_dir)


def new_file(text: str) -> str:
    """``type=`` for a file to write whose folder is created later if missing (checked like
    :func:`output_dir`)."""
    return _writable(text, _probe_new_file)


# -- running ----------------------------------------------------------------------------------
def _say(message: str) -> None:
    print(message, file=sys.stderr)


def run_command(parse: Callable[[list[str]], argparse.Namespace],
                work: Callable[[argparse.Namespace], int | None],
                argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) with ``parse``, then ``work(args)``; returns the exit
    status, never raises (``SystemExit`` included: ``--help`` returns 0).

    A refused argument or a :class:`~ragcompare.types.RagCompareError` prints one
    ``ragcompare: error: ...`` line and returns 2; Ctrl-C prints ``ragcompare: interrupted`` (plus the
    interrupt's message, if any) and returns 130; any other exception prints one line naming its type
    and message with a hint to rerun with ``--debug`` (which prints the traceback first) and returns 1.
    """
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    options = argv[:argv.index("--")] if "--" in argv else argv
    debug = DEBUG_FLAG in options
    try:
        args = parse(argv)
        code = work(args)
    except SystemExit as e:  # --help and --version print, then exit
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USER_ERROR)
    except KeyboardInterrupt as e:
        if debug:
            traceback.print_exc()
        _say("ragcompare: interrupted" + (f": {one_line(e)}" if str(e) else ""))
        return EXIT_INTERRUPTED
    except RagCompareError as e:
        if debug:
            traceback.print_exc()
        _say(PREFIX + (one_line(e) or type(e).__name__))
        return EXIT_USER_ERROR
    except Exception as e:  # noqa: BLE001 - the last resort: one line, not a traceback
        if debug:
            traceback.print_exc()
        message = one_line(e)
        _say(f"{PREFIX}unexpected {type(e).__name__}{': ' + message if message else ''}"
             + ("" if debug else f" {DEBUG_HINT}"))
        return EXIT_UNEXPECTED
    return 0 if code is None else int(code)
