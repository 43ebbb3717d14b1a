"""The driver: plan the sweep, check the run store on every node, submit the tasks, follow them, report.

Generate units are Ray tasks (with the GPUs of their preset on a GPU cluster); each generate output is
scored as N shard tasks, merged by one more; the follow-up commands (analyze, export) run when every score
output exists. Every task is a stage command (see tasks.py); each is a no-op on an output already
published, so a re-submitted sweep publishes nothing new, and a task retried after its node died resumes
from the units its stage already saved in the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from coderig_schemas import RunStore
from coderig_schemas.errors import CoderigError, ExitCode, InvalidInputError, UsageError

from .plan import GenerateUnit, expand, generate_gpus, output_key, reusable_shard_count, shard_count, units_from_plan
from .progress import Progress

#: Environment passed on to every stage process, wherever it runs (paths in it must exist on every node).
FORWARDED_PREFIXES = ("CODERIG_", "HF_", "VLLM_", "TRANSFORMERS_", "TORCHINDUCTOR_")
FORWARDED_NAMES = ("OMP_NUM_THREADS",)
#: How long the store check waits for a node's answer (a hang guard: a node that runs no task is refused).
CHECK_TIMEOUT_S = 300.0
MARKER_DIR = ".ray-check"


class SweepConfig(BaseModel):
    """What `coderig-ray run` was asked for."""

    model_config = ConfigDict(frozen=True)

    runs: Path
    generate_args: list[str]  # options of `coderig-generate run` (several models, datasets, seeds)
    extra_generate: list[list[str]] = []  # more sweeps whose scores only the follow-ups' {extra} takes
    score_args: list[str] = []  # options of every `coderig-score run`
    then: list[list[str]] = []  # follow-up commands: '<stage> <args>' with {scored} / {extra}
    shards: int | None = None  # score shards per generate output (default: the cluster's CPUs)
    address: str | None = None  # a Ray cluster to join; None: a local instance
    num_cpus: int | None = None  # CPUs of the local instance (default: the machine's)
    object_store_mb: int = 200  # of the local instance: tasks pass only paths, never data
    max_retries: int = 3  # Ray retries of a task whose worker or node died
    conflict_wait_s: float = 600.0
    progress_interval: float = 10.0


class StageFailed(CoderigError):
    """A stage command exited non-zero: the runner exits with the same code."""

    def __init__(self, stage: str, rc: int, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.exit_code = ExitCode(rc) if rc in ExitCode._value2member_map_ else ExitCode.FAILURE


class StoreNotShared(InvalidInputError):
    """A node cannot see the run store (exit 3)."""


@dataclass
class SweepResult:
    """What the sweep published: paths in the order the chain prints them, and where each task ran."""

    generated: list[str] = field(default_factory=list)
    scored: list[str] = field(default_factory=list)
    extra_scored: list[str] = field(default_factory=list)
    followups: list[list[str]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


def forwarded_env() -> dict[str, str]:
    """The driver's coderig and model-stack variables, for the stage processes on every node."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES) or k in FORWARDED_NAMES}


def local_plan(cfg: SweepConfig, args: list[str]) -> dict[str, Any]:
    """The generate stage's own plan of a sweep (`coderig-generate run ... --dry-run`), made on the driver."""
    exe = Path(sys.executable).parent / "coderig-generate"
    proc = subprocess.run([str(exe), "run", *args, "--dry-run"], capture_output=True, text=True, check=False,
                          env={**os.environ, "CODERIG_RUNS": str(cfg.runs)})
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()
        raise StageFailed("generate", proc.returncode, tail[-1] if tail else f"coderig-generate --dry-run exited {proc.returncode}")
    plan: dict[str, Any] = json.loads(proc.stdout)
    return plan


def connect(cfg: SweepConfig) -> None:
    """Join the cluster at cfg.address, or start a local Ray instance (never an unrelated running one)."""
    import ray

    if cfg.address:
        ray.init(address=cfg.address, log_to_driver=True)
    else:
        ray.init(address="local", num_cpus=cfg.num_cpus, include_dashboard=False,
                 object_store_memory=cfg.object_store_mb * 1024 * 1024, log_to_driver=True)


def check_store(runs: Path) -> list[dict[str, Any]]:
    """Write a marker into the store and have a task on every alive node read it back; StoreNotShared (one
    line) naming the first node that cannot. Returns each node's answer."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from .tasks import marker_task

    try:
        (runs / MARKER_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreNotShared(f"{runs}: cannot create the run store on the driver: {e.strerror or e}",
                             hint="give --runs (CODERIG_RUNS) a writable path on a file system every node mounts") from None
    token = uuid.uuid4().hex
    marker = runs / MARKER_DIR / f"{token}.marker"
    marker.write_text(token)
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        refs = {n["NodeID"]: marker_task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(str(marker)) for n in nodes}
        answers = []
        for node, ref in refs.items():
            ip = next((n.get("NodeManagerAddress", "?") for n in nodes if n["NodeID"] == node), "?")
            try:
                got = ray.get(ref, timeout=CHECK_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError:
                got = {"node_id": node, "host": ip, "text": None, "error": f"no answer in {CHECK_TIMEOUT_S:.0f} s"}
            except ray.exceptions.RayError as e:
                got = {"node_id": node, "host": ip, "text": None, "error": type(e).__name__}
            if got["text"] != token:
                why = got["error"] or "it reads another file there"
                raise StoreNotShared(f"ray node {node[:12]} ({ip}) cannot see the run store {runs} ({why})",
                                     hint="mount the store at the same path on every node (NFS or a mounted bucket; docs/scale-out.md)")
            answers.append(got)
        return answers
    finally:
        marker.unlink(missing_ok=True)
        try:
            (runs / MARKER_DIR).rmdir()
        except OSError:
            pass  # another driver's marker is still there


@dataclass
class _Unit:
    spec: GenerateUnit
    shards: int
    generated: str | None = None
    shard_out: dict[int, str] = field(default_factory=dict)
    scored: str | None = None


class Sweep:
    """One submission: its tasks, their follow-ups and the progress line."""

    def __init__(self, cfg: SweepConfig, log: Callable[[str], None],
                 extra_args: dict[GenerateUnit, list[str]] | None = None) -> None:
        self.cfg = cfg
        self.extra_args = extra_args or {}
        self.log = log
        self.env = forwarded_env()
        self.runs = str(cfg.runs)
        self.progress = Progress()
        self.pending: dict[Any, tuple[str, Any, int]] = {}
        self.result = SweepResult()
        self.failures: list[StageFailed] = []
        self.errors: list[str] = []

    def _submit(self, kind: str, what: Any, stage: str, args: list[str], gpus: int = 0) -> None:
        from .tasks import stage_task

        ref = stage_task.options(num_cpus=1, num_gpus=gpus, max_retries=self.cfg.max_retries, retry_exceptions=False).remote(
            stage, args, self.runs, self.env, self.cfg.conflict_wait_s)
        self.pending[ref] = (kind, what, gpus)
        self.progress.in_flight += 1

    def _score_args(self) -> list[str]:
        # one sandbox worker per task: the task holds one CPU of the cluster
        return self.cfg.score_args if "--workers" in self.cfg.score_args else [*self.cfg.score_args, "--workers", "1"]

    def _start_scoring(self, u: _Unit) -> None:
        assert u.generated is not None
        if u.shards == 1:
            self._submit("score", u, "score", ["run", "--generate", u.generated, *self._score_args()])
            return
        for i in range(u.shards):
            self._submit("shard", (u, i), "score", ["run", "--generate", u.generated, "--shard", f"{i}/{u.shards}", *self._score_args()])

    def run(self, units: list[GenerateUnit], cpus: float, gpus: float) -> SweepResult:
        """Submit everything and follow it to the end; StageFailed with the first failure's code."""
        import ray

        store = RunStore(self.cfg.runs)
        self.progress.slots = max(1, int(cpus))
        state = []
        for spec in units:
            reuse = reusable_shard_count(store, spec.name, output_key(spec.published)) if spec.published else None
            u = _Unit(spec, shard_count(self.cfg.shards, cpus, spec.samples, reuse))
            state.append(u)
            self.progress.total += 1 + u.shards + (1 if u.shards > 1 else 0)
        self.progress.total += len(self.cfg.then)
        for u in state:
            if u.spec.published:
                u.generated = u.spec.published
                self.progress.done += 1
                self.progress.skipped += 1
                self.result.tasks.append({"kind": "generate", "ref": u.spec.ref, "skipped": "already published"})
                self._start_scoring(u)
            else:
                self._submit("generate", u, "generate", u.spec.argv(self._base_args(u.spec)), generate_gpus(u.spec, gpus))
        started = time.monotonic()
        last = 0.0
        followups_started = False
        while self.pending:
            ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=self.cfg.progress_interval)
            for ref in ready:
                kind, what, gpus_asked = self.pending.pop(ref)
                self.progress.in_flight -= 1
                self._finish(ref, kind, what, gpus_asked)
            if not self.pending and not followups_started and not self.failures and not self.errors:
                followups_started = True
                self._start_followups(state)
            now = time.monotonic()
            if now - last >= self.cfg.progress_interval or not self.pending:
                self.log(self.progress.line(now - started))
                last = now
        if self.failures:
            raise self.failures[0]
        if self.errors:
            raise CoderigError(self.errors[0], hint="Ray gave up on the task after its retries; run the same command again to resume")
        for u in state:
            assert u.generated is not None and u.scored is not None
            (self.result.extra_scored if u.spec.extra else self.result.scored).append(u.scored)
            if not u.spec.extra:
                self.result.generated.append(u.generated)
        return self.result

    def _base_args(self, spec: GenerateUnit) -> list[str]:
        return self.extra_args.get(spec, self.cfg.generate_args)

    def _finish(self, ref: Any, kind: str, what: Any, gpus: int) -> None:
        import ray

        label = self._label(kind, what)
        try:
            out: dict[str, Any] = ray.get(ref)
        except ray.exceptions.RayError as e:
            self.progress.failed += 1
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.errors.append(f"{label}: task lost: {type(e).__name__}: {first}")
            self.log(f"ray: {label}: task lost ({type(e).__name__}), not retried further")
            return
        self.result.tasks.append({"kind": kind, "what": label, "gpus": gpus, **{k: out[k] for k in ("rc", "node_id", "host", "seconds")}})
        if out["rc"] != 0 or (kind != "followup" and not out["stdout"]):
            self.progress.failed += 1
            stage = "generate" if kind == "generate" else "score" if kind in ("shard", "score", "merge") else what[1][0]
            tail = out["stderr_tail"][-1] if out["stderr_tail"] else f"exit code {out['rc']}"
            self.failures.append(StageFailed(stage, out["rc"] or 1, f"{label}: {tail}"))
            self.log(f"ray: {label} failed (exit {out['rc']} on {out['host']}): {tail}")
            return
        self.progress.done += 1
        if kind == "generate":
            u = what
            u.generated = out["stdout"][-1]
            self._start_scoring(u)
        elif kind == "score":
            what.scored = out["stdout"][-1]
        elif kind == "shard":
            u, i = what
            u.shard_out[i] = out["stdout"][-1]
            if len(u.shard_out) == u.shards:
                self._submit("merge", u, "score", ["merge", *(u.shard_out[j] for j in range(u.shards))])
        elif kind == "merge":
            what.scored = out["stdout"][-1]
        else:
            index = what[0]
            self.result.followups[index] = out["stdout"]

    def _start_followups(self, state: list[_Unit]) -> None:
        scored = [u.scored for u in state if not u.spec.extra and u.scored]
        extra = [u.scored for u in state if u.spec.extra and u.scored]
        self.result.followups = [[] for _ in self.cfg.then]
        for index, template in enumerate(self.cfg.then):
            command = expand(template, scored, extra)
            self._submit("followup", (index, command), command[0], command[1:])

    @staticmethod
    def _label(kind: str, what: Any) -> str:
        if kind == "shard":
            u, i = what
            return f"score {u.spec.name} shard {i}/{u.shards}"
        if kind == "followup":
            return " ".join(what[1][:2])
        return f"{kind} {what.spec.name}"


def run_sweep(cfg: SweepConfig, log: Callable[[str], None] | None = None) -> SweepResult:
    """Plan, connect, check the store, run the sweep; the published paths and where each task ran."""
    import ray

    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    for template in cfg.then:
        if not template or template[0] not in ("generate", "score", "analyze", "export"):
            raise UsageError(f"--then {' '.join(template)!r}: a follow-up starts with a stage (analyze, export, ...)",
                             hint="e.g. --then 'analyze run {scored} --name my_sweep'")
    units = units_from_plan(local_plan(cfg, cfg.generate_args))
    extra_args: dict[GenerateUnit, list[str]] = {}
    for args in cfg.extra_generate:
        for spec in units_from_plan(local_plan(cfg, args), extra=True):
            units.append(spec)
            extra_args[spec] = args
    if not units:
        raise UsageError("the sweep has no (model, dataset, seed)", hint="give --model, --dataset and --seeds to coderig-generate")
    connect(cfg)
    try:
        answers = check_store(cfg.runs)
        res = ray.cluster_resources()  # type: ignore[no-untyped-call]
        cpus, gpus = float(res.get("CPU", 1)), float(res.get("GPU", 0))
        node_gpus = max((float(n.get("Resources", {}).get("GPU", 0)) for n in ray.nodes() if n.get("Alive")),  # type: ignore[no-untyped-call]
                        default=0.0)
        for spec in units:
            need = generate_gpus(spec, gpus)
            if need > node_gpus:
                raise UsageError(f"{spec.model}: its preset needs {need} GPUs on one node; the largest GPU node has {node_gpus:g}",
                                 hint="lower --tensor-parallel-size / --pipeline-parallel-size, or add a bigger node")
        say(f"ray: run store {cfg.runs} seen by all {len(answers)} node(s); {len(units)} generate unit(s), "
            f"{cpus:g} CPU(s), {gpus:g} GPU(s)")
        return Sweep(cfg, say, extra_args).run(units, cpus, gpus)
    finally:
        ray.shutdown()
