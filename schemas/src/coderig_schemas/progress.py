"""Progress for logs: plain, timestamped-by-the-reader lines every N seconds when stderr is not a terminal.

A rich progress bar redraws one line in place: under nohup, Slurm or CI (stderr a file or a pipe)
nothing of it appears until the step ends, and what finally appears is cut at the console's width.
:class:`LineProgress` prints instead one self-contained line when a step starts, then at most one
every ``interval`` seconds, then one when it ends: done/total, percentage, rate, ETA and the
step's own fields (e.g. ``pass_rate``). Lines are never wrapped, so a path in them stays whole.
The interval comes from ``CODERIG_PROGRESS_INTERVAL`` (seconds, default 10; 0 prints on every
advance), read once per command by ``cli_support.setup_logging``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

#: Environment variable holding the seconds between two progress lines in logs.
PROGRESS_INTERVAL_ENV = "CODERIG_PROGRESS_INTERVAL"
#: Seconds between two progress lines when the variable is not set.
DEFAULT_PROGRESS_INTERVAL = 10.0


def parse_interval(value: str | None) -> float:
    """The progress interval in seconds from the variable's text; ValueError with a one-line reason if bad."""
    if value is None or value.strip() == "":
        return DEFAULT_PROGRESS_INTERVAL
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{PROGRESS_INTERVAL_ENV}={value!r}: not a number of seconds; use e.g. 10, or 0 for every step") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{PROGRESS_INTERVAL_ENV}={value!r}: must be a finite number of seconds >= 0")
    return seconds


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def format_line(description: str, done: int, total: int | None, elapsed: float, rate: float | None,
                fields: dict[str, Any], final: bool = False) -> str:
    """One progress line: ``<description>: done/total (pct) rate/s eta H:MM:SS elapsed H:MM:SS k=v ...``.

    ``rate`` is items per second of this invocation (None before anything was done); the ETA is
    left out when it cannot be estimated, and the final line says ``done`` instead.
    """
    parts = [f"{description}: {done:,}" + (f"/{total:,}" if total else "")]
    if total:
        parts.append(f"({done / total:.1%})")
    if rate is not None:
        parts.append(f"{rate:,.1f}/s")
    if final:
        parts.append(f"done in {_duration(elapsed)}")
    else:
        if total and rate:
            parts.append(f"eta {_duration(max(0, total - done) / rate)}")
        parts.append(f"elapsed {_duration(elapsed)}")
    parts.extend(f"{k}={v}" for k, v in fields.items())
    return " ".join(parts)


class LineProgress:
    """Counts a step's progress and writes a line at start, every ``interval`` seconds, and at the end.

    ``completed`` is work already done before this invocation (a resume): counted in done/total but
    not in the rate, so the ETA is honest. ``write`` receives each line (no trailing newline).
    """

    def __init__(self, description: str, total: int | None, *, interval: float, write: Callable[[str], None],
                 completed: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.description = description
        self.total = total
        self.interval = interval
        self.done = completed
        self._resumed = completed
        self._write = write
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._fields: dict[str, Any] = {}
        self._printed_at: int | None = None
        self._emit(final=False)

    def _rate(self, now: float) -> float | None:
        new = self.done - self._resumed
        return new / max(now - self._start, 1e-9) if new > 0 else None

    def _emit(self, *, final: bool) -> None:
        now = self._clock()
        self._write(format_line(self.description, self.done, self.total, now - self._start, self._rate(now), self._fields, final))
        self._last = now
        self._printed_at = self.done

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Count n more items done; fields replace the step's extra fields (shown as k=v)."""
        self.done += n
        if fields:
            self._fields = fields
        if self._clock() - self._last >= self.interval:
            self._emit(final=False)

    def close(self) -> None:
        """Write the final line (the step ended, or was interrupted: done says how far it got)."""
        self._emit(final=True)
