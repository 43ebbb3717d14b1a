"""The one lifecycle of every coderig command: logging, the run store, exit codes and stdout.

A command's body is its own logic only: it turns its options into a frozen config, calls its
stage's one function and returns what to print. :func:`stage_command` does the rest, the same way
for every command of every stage::

    @main.command()
    @stage_command
    @click.argument("shards", nargs=-1, required=True)
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of the output path.")
    @runs_option
    @quiet_option
    def merge(store: RunStore, quiet: bool, shards: tuple[str, ...], as_json: bool) -> str:
        summary = merge_shards(store, list(shards))
        return report_output(summary.output.path, as_json, {"output": str(summary.output.path), **summary.stats})

A build's own log file is the builder's business (``with builder.log_to_file(): ...``, see
:meth:`coderig_schemas.store.Builder.log_to_file`), opened where the stage knows the output is not
published yet.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .cli_support import emit, run_main, setup_logging
from .store import RunStore

#: What a command body returns: one line for stdout, several (printed as they come), or None for nothing.
Output = str | Iterable[str] | None


def stage_command(body: Callable[..., Output]) -> Callable[..., None]:
    """Make ``body`` a command callback with the shared lifecycle.

    Around the body: logs on stderr (warnings only with ``--quiet``, when the command has it); a
    ``--runs`` option (:func:`~coderig_schemas.cli_support.runs_option`) becomes the parameter
    ``store``, a :class:`RunStore`; every error is mapped to the exit-code table by
    :func:`~coderig_schemas.cli_support.run_main` (one line on stderr, 130 on SIGINT or SIGTERM, quiet on
    a closed stdout); the returned line(s) go to stdout, each through :func:`emit`. Click's own
    usage errors (``click.UsageError``, ``click.BadParameter``) raised by the body keep Click's
    format and exit code 2. Stack it directly under ``@<group>.command()``.
    """

    @functools.wraps(body)
    def command(**params: Any) -> None:
        setup_logging(bool(params.get("quiet", False)))
        run_main(functools.partial(_invoke, body, params))

    return command


def _invoke(body: Callable[..., Output], params: dict[str, Any]) -> None:
    if "runs" in params:
        params = {k: v for k, v in params.items() if k != "runs"} | {"store": RunStore(params["runs"])}
    out = body(**params)
    # A generator body runs here, line by line: its errors are mapped like the others.
    for line in [] if out is None else [out] if isinstance(out, str) else out:
        emit(line)


def report_output(path: Path, as_json: bool, summary: Mapping[str, Any], *, sort_keys: bool = True) -> str:
    """What a command that published (or found published) one output prints: its path, or with --json
    ``summary`` as one line of JSON (keys sorted unless ``sort_keys`` is False; values JSON cannot hold as text)."""
    return json.dumps(summary, sort_keys=sort_keys, default=str) if as_json else str(path)
