"""Choosing the scored runs to export: references and globs over score outputs.

This is the only module of the stage that opens the run store for reading. Opening a run, its identity and
the join of results with samples and problems are the contract's (``coderig_schemas.scored``), shared with
analyze; every file goes through ``PublishedOutput`` so its sha256 is checked.
"""

from __future__ import annotations

import logging
from glob import has_magic

from coderig_schemas import InvalidInputError, PublishedOutput, RunStore
from coderig_schemas.layout import REFERENCE_TIMINGS, RESULTS
from coderig_schemas.scored import ScoredRow, ScoredRun, open_scored_run

__all__ = ["ScoredRow", "ScoredRun", "is_shard", "open_run", "open_runs", "resolve_scores"]

log = logging.getLogger("coderig.export")


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
    """The scored run (coderig_schemas.scored.open_scored_run): its generate output must be there, unchanged."""
    return open_scored_run(store, score, strict=True)


def open_runs(store: RunStore, refs: tuple[str, ...] | list[str]) -> list[ScoredRun]:
    """Resolve references or globs and open each run (sorted by reference, so the order never depends on the command line)."""
    return [open_run(store, s) for s in resolve_scores(store, refs)]
