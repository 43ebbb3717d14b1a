"""The worker pool: N warm workers fed from one queue, proven closed at start-up; a failed job is retried once.

Starting the pool picks the jail (bubblewrap, or in ``auto`` mode the fallback without it: the fork
server with each sample in a Landlock jail), starts the workers, and runs the start-up probes
(``probes``): the network must be closed and the run store (``SandboxSettings.protect``) out of reach,
else the pool refuses to start.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from . import isolation, jail
from .probes import NetworkCheck, NetworkOpenError, StoreCheck, StoreReachableError, probe_network, probe_store
from .protocol import JobDone, Landlock, RunJob
from .settings import SandboxSettings
from .worker import SandboxError, Worker

log = logging.getLogger("coderig.score.sandbox")

PIPELINE_DEPTH = 2
PIPE_SAFE_BYTES = 48 * 1024  # a queued job this small fits in the pipe without blocking the host


@dataclass
class _Flight:
    key: Any
    job: RunJob
    timeout: float
    attempt: int = 1
    errors: list[str] = field(default_factory=list)
    deaths: int = 0
    job_id: int | None = None
    size: int = 0


@dataclass
class Outcome:
    """A job's reply, or the harness failure that prevented one, with the attempts made."""

    key: Any
    reply: JobDone | None
    error: str | None
    attempts: int
    server_killed: bool = False  # both attempts ended with the server dead, where the program could kill it


Job = tuple[Any, RunJob, float]  # (key, job, how long the host waits for its reply)


class _Feeder:
    """One worker's share of ``WorkerPool.run``: up to PIPELINE_DEPTH jobs in flight, in order.

    Two jobs in flight per worker: the server starts the next one while the host judges the last. When
    the worker fails, the job at the head gets a second attempt on the restarted worker (or, after two,
    becomes a harness-failure outcome) and every job still in flight is sent again, in order.
    """

    def __init__(self, worker: Worker, todo: queue.Queue[Job | None], done: queue.Queue[Outcome | BaseException]) -> None:
        self.worker, self.todo, self.done = worker, todo, done
        self.inflight: collections.deque[_Flight] = collections.deque()
        self.held: _Flight | None = None  # a big job waiting until the worker is idle
        self.exhausted = False

    def serve(self, stop: threading.Event) -> None:
        """Feed the worker until the queue is exhausted and every job is answered (or stop is set)."""
        try:
            while not stop.is_set():
                self._top_up()
                if self.inflight:
                    self._settle_head()
                elif self.held is None:
                    return
        except BaseException as e:
            self.done.put(e)

    def _top_up(self) -> None:
        while len(self.inflight) < PIPELINE_DEPTH and (self.held is not None or not self.exhausted):
            flight = self._next()
            if flight is None:
                break
            if self.inflight and flight.size > PIPE_SAFE_BYTES:
                # Queued behind a running job it could fill the server's stdin while the server fills our
                # stdout: a big job waits until the worker is idle.
                self.held = flight
                break
            self.inflight.append(flight)
            self._send(flight)

    def _next(self) -> _Flight | None:
        """The held job, else the next one from the queue (waiting for it only when the worker is idle)."""
        if self.held is not None:
            flight, self.held = self.held, None
            return flight
        try:
            item = self.todo.get() if not self.inflight else self.todo.get_nowait()
        except queue.Empty:
            return None
        if item is None:
            self.exhausted = True
            return None
        flight = _Flight(*item)
        flight.size = len(json.dumps(flight.job))
        return flight

    def _send(self, flight: _Flight) -> None:
        try:
            flight.job_id = self.worker.submit(flight.job)
        except SandboxError as e:
            flight.job_id = None
            log.warning("cannot send %s to worker %d: %s", flight.key, self.worker.index, e)

    def _settle_head(self) -> None:
        """Wait for the oldest job's reply; on a harness failure retry it (once) on a restarted worker."""
        head = self.inflight[0]
        try:
            if head.job_id is None:
                raise SandboxError(f"worker {self.worker.index} could not be started or fed")
            reply = self.worker.receive(head.job_id, head.timeout)
        except SandboxError as e:
            self._failed(head, e)
            return
        self.inflight.popleft()
        self.done.put(Outcome(head.key, reply, None, head.attempt))

    def _failed(self, head: _Flight, error: SandboxError) -> None:
        head.errors.append(str(error))
        # Without a uid of its own the program runs as the server's user and can kill it.
        if self.worker.uid is None and self.worker.exited():
            head.deaths += 1
        log.warning("sandbox error on %s (attempt %d): %s", head.key, head.attempt, error)
        self.worker.close()
        if head.attempt >= 2:
            self.inflight.popleft()
            self.done.put(Outcome(head.key, None, " | ".join(head.errors), head.attempt, server_killed=head.deaths == 2))
        else:
            head.attempt += 1
        # The restarted worker gets every job still in flight again, in order.
        for flight in self.inflight:
            self._send(flight)


class WorkerPool:
    """N warm workers fed from one queue; a failed job is retried once on a restarted worker."""

    def __init__(self, settings: SandboxSettings, workers: int) -> None:
        self.settings = settings
        self.size = max(1, workers)
        self.mode: Literal["bwrap", "none"] = "bwrap" if settings.mode != "none" else "none"
        self.python = ""
        self.workers: list[Worker] = []
        self.network: NetworkCheck | None = None
        self.jail: Landlock | None = None
        self.store_checks: list[StoreCheck] = []

    def _worker(self, index: int) -> Worker:
        return Worker(index, self.mode, self.python, self.settings.limits, run_as=self.settings.run_as, jail=self.jail)

    def _start_first(self) -> Worker:
        """The first worker, in bubblewrap if it starts; in ``auto`` mode the fallback where it may be used."""
        if self.mode == "none":
            self.jail = isolation.jail_config(self.python)
        first = self._worker(0)
        try:
            first.start()
        except SandboxError as e:
            if self.settings.mode != "auto":
                raise
            self.jail = isolation.jail_config(self.python)
            if self.jail is None and not jail.root_is_read_only():
                # On a host without Landlock the fallback would let programs write to /tmp and read and write
                # the host's files; the store probe below refuses the run store in any case.
                raise SandboxError(
                    f"bubblewrap cannot start here ({e}), Landlock is not available and / is writable, so without "
                    "it the programs could read and write the host's files") from None
            log.warning("bubblewrap cannot start here (%s); falling back to the fork server without bubblewrap (%s); "
                        "the network and run-store checks still decide", e,
                        "each sample in a Landlock jail" if self.jail else "no Landlock: no private file view")
            self.mode = "none"
            first = self._worker(0)
            first.start()
        return first

    def _refuse_what_the_probes_found(self) -> None:
        assert self.network is not None
        reached = [c for c in self.store_checks if not c.closed]
        if reached:
            # Never overridable: a program that can write the store can rewrite published results.
            raise StoreReachableError(
                f"programs could reach the run store from inside the sandbox ({reached[0].store}: "
                + ", ".join(sorted(reached[0].reached)) + f"; sandbox {self.mode}, Landlock "
                + ("on" if self.jail else "unavailable") + ")")
        if not self.network.closed:
            msg = (f"the network is reachable from inside the sandbox (interfaces {self.network.interfaces}; "
                   f"{self.network.detail})")
            if not self.settings.allow_open_network:
                raise NetworkOpenError(msg)
            log.warning("!!! %s: scoring anyway because --i-know-the-network-is-open was given !!!", msg)

    def __enter__(self) -> WorkerPool:
        self.python = jail.choose_python(self.settings.python, need_world_readable=os.geteuid() == 0)
        first = self._start_first()
        self.workers = [first]
        try:
            for i in range(1, self.size):
                w = self._worker(i)
                w.start()
                self.workers.append(w)
            self.network = probe_network(first)
            self.store_checks = [probe_store(first, p, self.settings.limits) for p in self.settings.protect]
            self._refuse_what_the_probes_found()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def layers(self) -> list[str]:
        """The sandbox layers in force, for the run's stats and the logs (docs/score.md, "Sandbox layers")."""
        out = ["bubblewrap"] if self.mode == "bwrap" else []
        if self.jail is not None:
            out.append(f"landlock-abi{isolation.landlock_abi()}")
        if self.mode == "none" and any(w.info is not None and w.info["net_unshared"] for w in self.workers):
            out.append("netns")
        out += ["fork-server", "result-channel"]
        if self.network is not None and self.network.closed:
            out.append("network-closed")
        if self.store_checks and all(c.closed for c in self.store_checks):
            out.append("store-unreachable")
        return out

    def close(self) -> None:
        """Stop every worker."""
        for w in self.workers:
            w.close()
        self.workers = []

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Run (key, job, host_timeout) items on the pool; yield outcomes as they complete."""
        todo: queue.Queue[Job | None] = queue.Queue()
        done: queue.Queue[Outcome | BaseException] = queue.Queue()
        n = 0
        for item in jobs:
            todo.put(item)
            n += 1
        for _ in self.workers:
            todo.put(None)
        stop = threading.Event()
        threads = [threading.Thread(target=_Feeder(w, todo, done).serve, args=(stop,), daemon=True) for w in self.workers]
        for t in threads:
            t.start()
        try:
            for _ in range(n):
                got = done.get()
                if isinstance(got, BaseException):
                    raise got
                yield got
        finally:
            stop.set()
            for _ in self.workers:
                todo.put(None)
            for t in threads:
                t.join(timeout=0.1)


class LazyPool:
    """Starts the worker pool on first use (a no-op re-run never starts a sandbox)."""

    def __init__(self, settings: SandboxSettings, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self.pool: WorkerPool | None = None

    def get(self) -> WorkerPool:
        """The started pool."""
        if self.pool is None:
            pool = WorkerPool(self.settings, self.workers)
            self.pool = pool.__enter__()
        return self.pool

    def close(self) -> None:
        """Stop the workers if started."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None
