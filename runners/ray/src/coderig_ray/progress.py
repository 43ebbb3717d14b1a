"""The driver's progress line: tasks done/total, running, queued, failed, elapsed and ETA (pure)."""

from __future__ import annotations

from dataclasses import dataclass


def clock(seconds: float) -> str:
    """H:MM:SS."""
    s = max(0, int(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Progress:
    """Counts of the sweep's tasks. ``total`` grows while the sweep learns its shape (shards per output)."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0  # already published: no task ran
    in_flight: int = 0
    slots: int = 1  # tasks the cluster runs at once (its CPUs): the rest of those in flight are queued

    def line(self, elapsed: float) -> str:
        """One log line, e.g. `ray: 12/40 tasks done (30.0%), 2 running, 6 queued, 0 failed, elapsed 0:01:10 eta 0:02:43`."""
        finished = self.done + self.failed
        running = min(self.in_flight, self.slots)
        pct = 100.0 * finished / self.total if self.total else 100.0
        ran = finished - self.skipped
        left = self.total - finished
        eta = clock(elapsed / ran * left) if ran > 0 else "?"
        return (f"ray: {finished}/{self.total} tasks done ({pct:.1f}%), {running} running, {self.in_flight - running} queued, "
                f"{self.failed} failed, elapsed {clock(elapsed)} eta {eta}")
