"""What every stage's thin cli.py shares: the store option, error mapping, progress and logs."""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar, get_args

import annotated_types
import click
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .errors import CoderigError, ExitCode, InvalidInputError
from .progress import PROGRESS_INTERVAL_ENV, LineProgress, parse_interval
from .store import check_name

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=BaseModel)

log = logging.getLogger("coderig")

#: stderr console used for progress and logs (stdout carries machine-readable results only). soft_wrap:
#: a printed line is never folded at the console's width (80 columns when stderr is a file or a pipe),
#: so a path in it stays whole for whoever greps the log.
console = Console(stderr=True, soft_wrap=True)

#: Seconds between two progress lines when stderr is not a terminal (see coderig_schemas.progress).
_progress_interval: float = parse_interval(None)


def runs_option(f: F) -> F:
    """The --runs option (env CODERIG_RUNS, default ./runs) shared by every command."""
    return click.option(
        "--runs", "runs", type=click.Path(file_okay=False, path_type=Path), envvar="CODERIG_RUNS",
        default=Path("runs"), show_default=True, show_envvar=True,
        help="Root of the run store (any mounted path; several machines may share it).",
    )(f)


def quiet_option(f: F) -> F:
    """The --quiet flag: no progress or info logs on stderr."""
    return click.option("--quiet", "-q", is_flag=True, help="Silence progress and logs on stderr.")(f)


def build_config(model: type[C], /, **values: Any) -> C:
    """Parse options into a frozen config model; a value or combination it refuses is a usage error (exit 2).

    The config model is the one home of these checks: the message names the option of the field
    (its last name, as nested models are flattened into options) or, for a rule between fields,
    is the model's own sentence.
    """
    try:
        return model.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        fields = [p for p in first["loc"] if isinstance(p, str)]
        option = f"--{fields[-1].replace('_', '-')}: " if fields else ""
        raise click.UsageError(f"{option}{first['msg'].removeprefix('Value error, ')}") from None


def bounded(model: type[BaseModel], field: str) -> click.IntRange | click.FloatRange:
    """The click type of an option that fills ``model.<field>``: the field's number type, with its bounds.

    The model stays the one home of a bound: ``--help`` shows it (``[x>=1]``), and a value outside is
    refused while the options are parsed, with Click's message and exit code 2.
    """
    info = model.model_fields[field]
    number = int if int in (info.annotation, *get_args(info.annotation)) else float
    low: float | None = None
    high: float | None = None
    low_open = high_open = False
    for bound in info.metadata:  # the bounds of a number field are numbers (annotated_types types them as protocols)
        if isinstance(bound, annotated_types.Ge):
            low = bound.ge  # type: ignore[assignment]
        elif isinstance(bound, annotated_types.Gt):
            low, low_open = bound.gt, True  # type: ignore[assignment]
        elif isinstance(bound, annotated_types.Le):
            high = bound.le  # type: ignore[assignment]
        elif isinstance(bound, annotated_types.Lt):
            high, high_open = bound.lt, True  # type: ignore[assignment]
    if number is int:
        # Whole numbers: x > 0 is x >= 1, shown as such.
        return click.IntRange(None if low is None else int(low) + low_open, None if high is None else int(high) - high_open)
    return click.FloatRange(low, high, min_open=low_open, max_open=high_open)


def from_field(model: type[BaseModel], field: str) -> dict[str, Any]:
    """Click keywords of an option that fills ``model.<field>``: its bounded type and its default,
    both read from the model (their one home), the default shown in ``--help``."""
    return {"type": bounded(model, field), "default": model.model_fields[field].get_default(call_default_factory=True),
            "show_default": True}


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot name an output (one line), or None when it can."""
    try:
        check_name(value)
    except InvalidInputError as e:
        return e.one_line()
    return None


def output_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of every ``--name`` option that names an output: a bad name is a bad option value (exit 2),
    found before any input is read."""
    problem = None if value is None else name_problem(value)
    if problem is not None:
        raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class _PlainStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """One unwrapped line per record on the current sys.stderr (for logs: nohup, Slurm, CI)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)  # a test runner may have swapped stderr since the handler was made
        super().emit(record)


def setup_logging(quiet: bool) -> None:
    """Log to stderr (warnings only when quiet) and read the progress interval.

    A terminal gets rich's log and progress bars; anything else (a file, a pipe) gets plain lines
    that are never wrapped, and progress as a line every ``CODERIG_PROGRESS_INTERVAL`` seconds.
    """
    global _progress_interval
    try:
        _progress_interval = parse_interval(os.environ.get(PROGRESS_INTERVAL_ENV))
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    root = logging.getLogger("coderig")
    root.setLevel(logging.INFO)
    root.handlers = [h for h in root.handlers if not isinstance(h, RichHandler | _PlainStderrHandler)]
    handler: logging.Handler = (
        RichHandler(console=console, show_path=False, rich_tracebacks=False) if console.is_terminal else _PlainStderrHandler()
    )
    handler.setLevel(logging.WARNING if quiet else logging.INFO)
    root.addHandler(handler)
    root.propagate = False


def run_main(fn: Callable[[], Any]) -> None:
    """Run a command body and exit with the code of the shared table.

    CoderigError: its one-line message on stderr and its code. KeyboardInterrupt and SIGTERM:
    code 130 (partial work stays in the staging area for resume). Anything else: code 1.
    """
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        fn()
    except CoderigError as e:
        console.print(f"[bold red]error:[/] {escape(e.one_line())}", highlight=False, soft_wrap=True)
        sys.exit(int(e.exit_code))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/] partial work is kept; run the same command again to resume")
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): not an error of ours; stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(int(ExitCode.OK))
    except (click.ClickException, click.exceptions.Exit, SystemExit):
        raise
    except OSError as e:
        if e.errno not in _FS_ERRORS:
            _unexpected(e)
        # The file system refused (full, read-only, no permission): not a bug, so one line and no traceback.
        where = e.filename if e.filename is not None else "the run store"
        hint = (
            "free some space; partial work is kept in the staging area, run the same command again to resume"
            if e.errno in (errno.ENOSPC, errno.EDQUOT)
            else "make that path writable, or choose another run store with --runs or CODERIG_RUNS"
        )
        console.print(f"[bold red]error:[/] {escape(f'{where}: {e.strerror}; {hint}')}", highlight=False, soft_wrap=True)
        sys.exit(int(ExitCode.FAILURE))
    except Exception as e:
        _unexpected(e)
    finally:
        signal.signal(signal.SIGTERM, previous)


#: errno values of a file system that refuses a write: reported as one line, not as a bug.
_FS_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def _unexpected(e: Exception) -> NoReturn:
    log.exception("unexpected error")
    console.print(f"[bold red]error:[/] unexpected {type(e).__name__}: {escape(str(e))}", highlight=False, soft_wrap=True)
    sys.exit(int(ExitCode.FAILURE))


def emit(value: str) -> None:
    """Write one machine-readable result line to stdout."""
    click.echo(value)


@contextmanager
def progress(description: str, total: int | None, quiet: bool, completed: int = 0) -> Iterator[Callable[..., None]]:
    """Progress of one long step on stderr; yields advance(n=1, **fields).

    Extra fields (e.g. pass_rate) are shown beside the counts. ``completed`` is work done before
    this invocation (a resume). On a terminal: a rich bar with counts, rate and ETA. Otherwise
    (nohup, Slurm, CI): a plain line at the start, every ``CODERIG_PROGRESS_INTERVAL`` seconds and
    at the end (see :mod:`coderig_schemas.progress`), also written to the run's log file.
    """
    if quiet or total == 0:
        yield lambda n=1, **kw: None
        return
    if not console.is_terminal:
        progress_log = logging.getLogger("coderig.progress")
        lines = LineProgress(description, total, interval=_progress_interval, write=progress_log.info, completed=completed)
        try:
            yield lines.advance
        finally:
            lines.close()
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[extra]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total, extra="", completed=completed)
        start, seen = time.monotonic(), 0

        def advance(n: int = 1, **fields: Any) -> None:
            nonlocal seen
            seen += n
            rate = seen / max(time.monotonic() - start, 1e-9)
            extra = " ".join([f"{rate:,.1f}/s", *(f"{k}={v}" for k, v in fields.items())])
            bar.update(task, advance=n, extra=extra)

        yield advance
