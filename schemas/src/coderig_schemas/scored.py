""""The scored run": a score output, the generate output it scored, its identity and its joined rows.

Every stage after score reads runs through :func:`open_scored_run`, so the rules live here once:

- which generate output a score output scored (its first 'generate/...' input, unchanged since:
  the manifest's sha256 must match the one the score manifest recorded);
- the run's identity (:class:`~coderig_schemas.identity.RunIdentity`): published by generate in its
  manifest, or, for outputs made before that, derived once from generate's config by
  :func:`~coderig_schemas.identity.derive_identity` (never guessed by a stage);
- how results join samples and problems (by ``sample_id`` and ``problem_id``; results are written in
  samples order, so both files stream side by side), in :meth:`ScoredRun.rows`.

Analyze reads the same files column-wise for speed (its ``fastread``) but takes the generate output and
the identity from here; export streams :meth:`ScoredRun.rows`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import InvalidInputError
from .identity import RunIdentity, derive_identity
from .io import iter_jsonl_objects
from .layout import PROBLEMS, RESULTS, SAMPLES
from .problem import Problem
from .sample import Sample
from .score import ScoreResult
from .store import PublishedOutput, RunStore


@dataclass(frozen=True)
class ScoredRow:
    """One scored sample with its problem and the run it belongs to."""

    run: ScoredRun
    problem: Problem
    sample: Sample
    result: ScoreResult


def generate_input(score: PublishedOutput) -> str | None:
    """Reference of the generate output a score output scored (its first 'generate/' input), if it names one."""
    return next((i.ref for i in score.manifest.inputs if i.ref.startswith("generate/")), None)


def _first_line(out: PublishedOutput, rel: str) -> dict[str, Any] | None:
    """The first record of a JSONL file as plain JSON (only to derive an old output's identity; not hash-checked)."""
    if not out.has(rel):
        return None
    with closing(iter_jsonl_objects(out.path / rel)) as records:
        try:
            first = next(records, None)
        except InvalidInputError:
            return None
    return first.obj if first is not None else None


def run_identity(score: PublishedOutput, generate: PublishedOutput | None) -> RunIdentity:
    """The identity of a scored run: generate's published one, else derived once from its config.

    Without the generate output (deleted, or changed after scoring) the first result says what it can
    (model, dataset, split, seed) and the score output's name the rest.
    """
    if generate is not None:
        if generate.manifest.identity is not None:
            return generate.manifest.identity
        return derive_identity(generate.manifest.config, name=generate.manifest.name, first_sample=_first_line(generate, SAMPLES))
    return derive_identity({}, name=score.manifest.name, first_sample=_first_line(score, RESULTS))


@dataclass
class ScoredRun:
    """A score output opened with the generate output it scored and the run's identity.

    Opening reads only manifests (and, for an output without a published identity, one sample line);
    the problems are read on first use, so a command can find out that its own output already exists
    (its key hashes the manifests) before reading any file.
    """

    score: PublishedOutput
    generate: PublishedOutput | None
    identity: RunIdentity
    #: Why the generate output is unavailable, when it is (one sentence); None when it was opened.
    generate_problem: str | None = field(default=None)

    @property
    def ref(self) -> str:
        """'score/<name>/<key>' of the score output."""
        return self.score.ref

    @property
    def name(self) -> str:
        """Name of the score output."""
        return self.score.manifest.name

    @property
    def key(self) -> str:
        """Key of the score output."""
        return self.score.manifest.key

    @property
    def model(self) -> str:
        """The model's name (identity)."""
        return self.identity.model

    @property
    def seed(self) -> int | None:
        """The run's seed (identity)."""
        return self.identity.seed

    @property
    def config_id(self) -> str:
        """The configuration (every identity field but the seed), 8 hex characters."""
        return self.identity.config_id

    @property
    def label(self) -> str:
        """The configuration for a person, e.g. 'T=0.8 top_p=0.95 max=1024 tpl=chat'."""
        return self.identity.label()

    def _generate(self) -> PublishedOutput:
        if self.generate is None:
            raise InvalidInputError(f"{self.ref}: {self.generate_problem or 'no generate output'}",
                                    hint="re-run generate and score for this run")
        return self.generate

    @cached_property
    def problems(self) -> dict[str, Problem]:
        """The generate output's problems by problem id (read, and hash-checked, on first use)."""
        return {p.problem_id: p for p in self._generate().records(PROBLEMS, Problem)}

    @property
    def datasets(self) -> str:
        """Datasets of the run's problems, comma-separated."""
        return ",".join(sorted({p.dataset for p in self.problems.values()}))

    def rows(self) -> Iterator[ScoredRow]:
        """Each result joined with its sample and problem, in results order.

        Results are written in samples order, so both files are streamed side by side; samples that
        are out of step are kept in a small lookaside dict, so any order still joins correctly.
        """
        generate = self._generate()
        samples = generate.records(SAMPLES, Sample)
        pending: dict[str, Sample] = {}
        results_path = self.score.path / RESULTS
        for line, result in enumerate(self.score.records(RESULTS, ScoreResult), start=1):
            sample = pending.pop(result.sample_id, None)
            while sample is None:
                nxt = next(samples, None)
                if nxt is None:
                    raise InvalidInputError(
                        f"{results_path}:{line}: sample_id: {result.sample_id!r} is not in {generate.ref}/{SAMPLES}",
                        hint="the score output does not belong to its generate input; re-run score",
                    )
                if nxt.sample_id == result.sample_id:
                    sample = nxt
                else:
                    pending[nxt.sample_id] = nxt
            problem = self.problems.get(result.problem_id)
            if problem is None:
                raise InvalidInputError(
                    f"{results_path}:{line}: problem_id: {result.problem_id!r} is not in {generate.ref}/{PROBLEMS}",
                    hint="the score output does not belong to its generate input; re-run score",
                )
            yield ScoredRow(run=self, problem=problem, sample=sample, result=result)

    def inputs(self) -> list[PublishedOutput]:
        """The outputs this run was read from, for the manifest of what is built from it."""
        return [self.score] if self.generate is None else [self.score, self.generate]


def open_scored_run(store: RunStore, score: PublishedOutput, *, strict: bool = True) -> ScoredRun:
    """Open a score output with the generate output it scored, and the run's identity.

    ``strict``: a missing, unreadable or since-changed generate output is an error (exit 3); otherwise the
    run opens without it (``generate`` None, ``generate_problem`` saying why) and its identity comes from
    the results, for a reader that can still use the verdicts alone (analyze).
    """
    ref = next((i for i in score.manifest.inputs if i.ref.startswith("generate/")), None)
    problem: str | None = None
    generate: PublishedOutput | None = None
    if ref is None:
        problem = "its manifest names no generate input"
    else:
        try:
            generate = store.resolve(ref.ref, stage="generate")
        except InvalidInputError as e:
            if strict:
                raise
            problem = f"generate input unavailable ({e.message})"
        else:
            if generate.manifest_sha256 != ref.manifest_sha256:
                problem, generate = f"generate input {ref.ref} changed after scoring; its samples are not used", None
    if problem is not None and strict:
        raise InvalidInputError(f"{score.path / 'manifest.json'}: inputs: {score.ref}: {problem}",
                                hint="re-run score on a generate output")
    return ScoredRun(score=score, generate=generate, identity=run_identity(score, generate), generate_problem=problem)
