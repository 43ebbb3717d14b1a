"""Reading scored runs: score outputs, the generate outputs behind them, and each sample joined with its verdict.

This is the only module of the stage that opens the run store for reading. Every file goes through
``PublishedOutput`` so its sha256 is checked and it is listed as an input of what the stage publishes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from glob import has_magic

from coderig_schemas import InvalidInputError, Problem, PublishedOutput, RunStore, Sample, ScoreResult
from coderig_schemas.layout import PROBLEMS, REFERENCE_TIMINGS, RESULTS, SAMPLES

log = logging.getLogger("coderig.export")


@dataclass(frozen=True)
class ScoredRow:
    """One scored sample with its problem and the run it belongs to."""

    run: ScoredRun
    problem: Problem
    sample: Sample
    result: ScoreResult


@dataclass
class ScoredRun:
    """A score output opened together with the generate output it scored.

    Opening reads only the two manifests; the problems are read on first use, so a command can
    find out that its output already exists (the key hashes the manifests) before reading any file.
    """

    score: PublishedOutput
    generate: PublishedOutput

    @cached_property
    def problems(self) -> dict[str, Problem]:
        """The generate output's problems by problem id (read, and hash-checked, on first use)."""
        return {p.problem_id: p for p in self.generate.records(PROBLEMS, Problem)}

    @property
    def ref(self) -> str:
        """'score/<name>/<key>' of the score output."""
        return self.score.ref

    @property
    def name(self) -> str:
        """Name of the score output (e.g. 'tiny-random__humaneval__s0')."""
        return self.score.manifest.name

    @property
    def key(self) -> str:
        """Key of the score output."""
        return self.score.manifest.key

    @property
    def model(self) -> str:
        """Model name: the generate config's 'model', else the samples' model as the output name states it."""
        model = self.generate.manifest.config.get("model")
        if isinstance(model, dict):
            model = model.get("name") or model.get("model")
        return str(model) if model else self.name.split("__")[0]

    @property
    def seed(self) -> int | None:
        """Seed of the generate config, if it has one."""
        seed = self.generate.manifest.config.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    @property
    def datasets(self) -> str:
        """Datasets of the run's problems, comma-separated."""
        return ",".join(sorted({p.dataset for p in self.problems.values()}))

    def rows(self) -> Iterator[ScoredRow]:
        """Each result joined with its sample and problem, in results order.

        Results are written in samples order, so both files are streamed side by side; samples that
        are out of step are kept in a small lookaside dict, so any order still joins correctly.
        """
        samples = self.generate.records(SAMPLES, Sample)
        pending: dict[str, Sample] = {}
        results_path = self.score.path / RESULTS
        for line, result in enumerate(self.score.records(RESULTS, ScoreResult), start=1):
            sample = pending.pop(result.sample_id, None)
            while sample is None:
                nxt = next(samples, None)
                if nxt is None:
                    raise InvalidInputError(
                        f"{results_path}:{line}: sample_id: {result.sample_id!r} is not in {self.generate.ref}/{SAMPLES}",
                        hint="the score output does not belong to its generate input; re-run score",
                    )
                if nxt.sample_id == result.sample_id:
                    sample = nxt
                else:
                    pending[nxt.sample_id] = nxt
            problem = self.problems.get(result.problem_id)
            if problem is None:
                raise InvalidInputError(
                    f"{results_path}:{line}: problem_id: {result.problem_id!r} is not in {self.generate.ref}/{PROBLEMS}",
                    hint="the score output does not belong to its generate input; re-run score",
                )
            yield ScoredRow(run=self, problem=problem, sample=sample, result=result)

    def inputs(self) -> list[PublishedOutput]:
        """The outputs this run was read from, for the manifest of what is built from it."""
        return [self.score, self.generate]


def is_shard(out: PublishedOutput) -> bool:
    """Whether a score output is one shard of a split run ('score/shard<i>of<N>__<name>', config 'shard' set)."""
    return out.manifest.config.get("shard") is not None


def resolve_scores(store: RunStore, refs: tuple[str, ...] | list[str]) -> list[PublishedOutput]:
    """Score outputs named by references or name globs, deduplicated and sorted by reference.

    A glob ('*humaneval*', 'score/qwen*') takes the last published version of each matching name and says
    which names have more ('score/qwen*/*' takes every version; see ``RunStore.select``); a plain
    reference resolves as ``RunStore.resolve`` does. No argument means every score output. Globs skip
    score outputs that hold no results (the scorer's reference timings), and shard outputs, whose
    results the merged output holds (counting both would count each sample twice), unless the glob
    itself starts with 'shard' ('score/shard*'); a shard named by its reference is always taken.
    """
    found: dict[str, PublishedOutput] = {}
    skipped: list[PublishedOutput] = []
    for ref in refs or ("*",):
        if has_magic(ref):
            glob = ref.removeprefix("score/")
            shards = 0

            def keep(out: PublishedOutput, take_shards: bool = glob.startswith("shard")) -> bool:
                nonlocal shards
                if not out.has(RESULTS):  # score outputs without results (reference timings) are not runs
                    return False
                if is_shard(out) and not take_shards:
                    skipped.append(out)
                    shards += 1
                    return False
                return True

            # Which versions of a name a glob takes is the store's rule (RunStore.select), said on stderr.
            selection = store.select("score", glob, keep=keep)
            for note in selection.notes:
                log.warning("%s", note)
            newest = {out.ref: out for out in selection.outputs}
            if not newest:
                if shards:
                    raise InvalidInputError(f"only shard outputs match {ref!r} in {store.root}",
                                            hint="merge them with 'coderig-score merge', or name them ('score/shard*')")
                raise InvalidInputError(f"no score output matches {ref!r} in {store.root}",
                                        hint="run the score stage first or check --runs")
            for out in newest.values():
                found.setdefault(out.ref, out)
        else:
            out = store.resolve(ref, stage="score")
            _check_has_results(out)
            found.setdefault(out.ref, out)
    _warn_unmerged(skipped, list(found.values()))
    return [found[r] for r in sorted(found)]


def _warn_unmerged(skipped: list[PublishedOutput], chosen: list[PublishedOutput]) -> None:
    """Say when skipped shards have no merged output among the inputs: their samples are then not exported at all."""
    covered = {i.ref for out in chosen for i in out.manifest.inputs[:1]}
    unmerged = sorted({s.manifest.inputs[0].ref for s in skipped if s.manifest.inputs and s.manifest.inputs[0].ref not in covered})
    for gen in unmerged:
        log.warning("shard outputs of %s are left out and no merged output of it is among the inputs: "
                    "merge them with 'coderig-score merge', or name them ('score/shard*')", gen)


def _check_has_results(out: PublishedOutput) -> None:
    """A score output named explicitly must hold results: reference timings, for one, are not a run."""
    if out.has(RESULTS):
        return
    if out.has(REFERENCE_TIMINGS):
        raise InvalidInputError(
            f"{out.ref} holds the scorer's reference timings ({REFERENCE_TIMINGS}), not results",
            hint="name the score output of a generate output, e.g. 'score/<model>__<dataset>__s<seed>'",
        )
    raise InvalidInputError(f"{out.path / 'manifest.json'}:1: outputs: {out.ref} lists no {RESULTS}",
                            hint="name a score output that scored samples, or re-run score on its generate output")


def open_run(store: RunStore, score: PublishedOutput) -> ScoredRun:
    """Open a score output and its generate input (manifests only; the problems are read on first use)."""
    if not score.manifest.inputs:
        raise InvalidInputError(
            f"{score.path / 'manifest.json'}: inputs: {score.ref} names no generate output", hint="re-run score on a generate output"
        )
    generate = store.resolve(score.manifest.inputs[0].ref, stage="generate")
    return ScoredRun(score=score, generate=generate)


def open_runs(store: RunStore, refs: tuple[str, ...] | list[str]) -> list[ScoredRun]:
    """Resolve references or globs and open each run (sorted by reference, so the order never depends on the command line)."""
    return [open_run(store, s) for s in resolve_scores(store, refs)]
