"""The finetune export: passing samples -> clean, unique, mixed examples -> dataset files, published as one output."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass

from coderig_schemas import Builder, ChatExample, FineTuneExample, InvalidInputError, Problem, PublishedOutput, RunStore, UsageError
from coderig_schemas.cli_support import progress
from coderig_schemas.layout import CHAT_JSONL, FINETUNE_JSONL, PROBLEMS, RESULTS

from . import __version__
from .card import CardFacts, dataset_card
from .config import FinetuneConfig
from .decontam import Decontaminator, SplitRule, unmatched_rules
from .dedup import Deduplicator
from .files import (
    CARD,
    CHAT_PARQUET,
    FINETUNE_CSV,
    FINETUNE_PARQUET,
    LLAMA_FACTORY_INFO,
    SUMMARY_CSV,
    finetune_csv,
    llama_factory_info,
    parquet_bytes,
    pretty_json,
)
from .load import ScoredRun, open_runs
from .mix import MixReport, select_mix
from .records import chat_example, finetune_example
from .selection import Candidate, candidate, meets
from .summary import DatasetTally, summary_csv, summary_rows

log = logging.getLogger("coderig.export")

TOOL = "coderig-export"


@dataclass
class Gathered:
    """Clean, unique passing candidates and the tallies explaining what was left out."""

    candidates: list[Candidate]
    tallies: dict[str, DatasetTally]
    contamination: Counter[str]  # reason -> samples removed


def gather(runs: list[ScoredRun], config: FinetuneConfig, decontaminator: Decontaminator, quiet: bool = True) -> Gathered:
    """Stream every scored sample of the runs and keep the passing, clean, first-of-their-kind ones."""
    tallies: dict[str, DatasetTally] = defaultdict(DatasetTally)
    reasons: Counter[str] = Counter()
    dedup = Deduplicator()
    kept: list[Candidate] = []
    verdicts: dict[tuple[str, str], str | None] = {}  # (dataset, problem) -> contamination reason, decided once per problem
    total = sum(r.score.entry(RESULTS).records or 0 for r in runs)
    n_read = n_met = 0
    with progress("reading scored samples", total, quiet) as advance:
        for run in runs:
            for row in run.rows():
                met = meets(row.result, config.criterion)
                n_read += 1
                n_met += met
                advance(1, pass_rate=f"{n_met / n_read:.1%}")
                c = candidate(row, config.instruction)
                tally = tallies[c.dataset]
                label = str(c.difficulty) if c.difficulty is not None else "unknown"
                tally.scored[label] += 1
                if not met:
                    continue
                tally.passing[label] += 1
                key = (c.dataset, c.problem_id)
                if key not in verdicts:
                    verdicts[key] = decontaminator.reason(row.problem)
                reason = verdicts[key]
                if reason is not None:
                    tally.contaminated += 1
                    reasons[reason] += 1
                elif dedup.is_duplicate(c.dataset, c.problem_id, c.code, c.is_code):
                    tally.duplicates += 1
                else:
                    tally.clean += 1
                    kept.append(c)
    return Gathered(candidates=kept, tallies=dict(tallies), contamination=reasons)


def empty_warning(got: Gathered, config: FinetuneConfig, report: MixReport) -> str:
    """Why the dataset came out empty, with hints that suggest only options not already given."""
    tallies = got.tallies.values()
    passing, contaminated = sum(sum(t.passing.values()) for t in tallies), sum(t.contaminated for t in tallies)
    duplicates = sum(t.duplicates for t in tallies)
    if config.eval_splits:
        removed = f"{contaminated} from evaluation splits" + (" or --against outputs" if config.against else "")
        removed += " (--include-eval-splits keeps those of evaluation splits)"
    else:  # --include-eval-splits: only --against removes anything
        removed = f"{contaminated} from --against outputs"
    not_taken = f"{len(got.candidates)} clean ones not taken by the {report.mix} mix"
    if report.mix != "all":
        not_taken += " (--mix all takes them)"
    return f"the dataset is empty: {passing} passing samples, {removed}, {duplicates} duplicates, {not_taken}"


def _warn_shortfall(report: MixReport) -> None:
    for b in report.shortfalls:
        log.warning("bucket %s is short: %d of %d wanted (%d available)", b.difficulty, b.taken, b.target, b.available)
    if report.total_short and not report.shortfalls:
        log.warning("only %d examples of the %d asked", report.taken, report.size)
    scarce = report.limited_by
    if scarce is not None:
        log.warning("the %s mix takes %d examples: bucket %s (%d available) limits the exact ratios; "
                    "--size N takes more from the other buckets and reports the shortfall", report.mix, report.taken,
                    scarce.difficulty, scarce.available)
    if report.unknown_dropped:
        log.warning("%d examples without a difficulty left out of the %s mix (use --mix all to keep them)",
                    report.unknown_dropped, report.mix)
    achieved = ", ".join(f"{k} {v:.1%}" for k, v in report.achieved().items())
    log.info("mix %s achieved: %d examples (%s)", report.mix, report.taken, achieved)


def check_eval_splits(config: FinetuneConfig, runs: list[ScoredRun]) -> None:
    """Refuse --eval-split rules naming a dataset no input has (a typo would keep the evaluation problems); warn of splits.

    Only for rules given on the command line: the default list names every registry dataset, most
    of them absent from any one export.
    """
    seen = {(p.dataset, p.split) for run in runs for p in run.problems.values()}
    no_dataset, no_split = unmatched_rules(config.rules(), seen)
    if no_dataset:
        datasets = ", ".join(sorted({d for d, _ in seen})) or "none"
        raise UsageError(
            f"--eval-split {', '.join(map(str, no_dataset))}: no input has {'that dataset' if len(no_dataset) == 1 else 'those datasets'}",
            hint=f"the inputs' datasets are {datasets}; fix the spelling, or drop the rule",
        )
    for rule in no_split:
        splits = ", ".join(sorted({sp for d, sp in seen if SplitRule(rule.dataset).matches(d, sp)}))
        log.warning("--eval-split %s removes nothing: the inputs' %s problems are in split(s) %s", rule, rule.dataset, splits)


def export_finetune(store: RunStore, refs: tuple[str, ...], config: FinetuneConfig, name: str, quiet: bool,
                    *, explicit_eval_splits: bool = False) -> tuple[PublishedOutput, bool]:
    """Build and publish the fine-tuning dataset; return the output and whether it already existed.

    explicit_eval_splits: the rules came from --eval-split, so each must name a dataset of the inputs.
    """
    # Only manifests are read before the output key is known: a no-op re-run reads no file.
    runs = open_runs(store, refs)
    against: list[PublishedOutput] = []
    for ref in config.against:
        out = store.resolve(ref)
        if out.stage not in ("generate", "score") or (out.stage == "score" and not out.manifest.inputs):
            raise InvalidInputError(f"--against {ref}: a {out.stage} output holds no problems", hint="name a generate or score output")
        against.append(store.resolve(out.manifest.inputs[0].ref, stage="generate") if out.stage == "score" else out)
    inputs = [o for r in runs for o in r.inputs()] + against
    with store.begin(stage="export", name=name, config=config, inputs=inputs, tool=TOOL, tool_version=__version__,
                     packages=["pyarrow", "coderig-export"]) as builder:
        if builder.existing is not None:
            return builder.existing, True
        with builder.log_to_file():
            log.info("finetune export of %d run(s) into %s", len(runs), builder.ref)
            if explicit_eval_splits:
                check_eval_splits(config, runs)
            decontaminator = Decontaminator(config.rules())
            for source in against:
                for p in source.records(PROBLEMS, Problem):
                    decontaminator.add_eval_problem(p)
            for run in runs:
                decontaminator.learn(run.problems.values())
            got = gather(runs, config, decontaminator, quiet)
            builder.mark("gather")
            for reason, n in got.contamination.most_common():
                log.info("decontamination: %d samples removed (%s)", n, reason)
            chosen, report = select_mix(
                got.candidates, lambda c: c.difficulty, lambda c: f"{c.dataset}\x00{c.problem_id}",
                mix=config.mix, ratios=config.ratios, size=config.size, seed=config.seed,
            )
            _warn_shortfall(report)
            if not chosen:
                # No data file at all: `datasets` cannot load a JSONL file without rows (a bare StopIteration),
                # so an empty set is this one line, the card and the summary; --json and stats say examples 0.
                log.warning("%s; no data files written", empty_warning(got, config, report))
            builder.mark("mix")
            files = _write_files(builder, chosen, config) if chosen else []
            rows = summary_rows(got.tallies, chosen)
            builder.write_bytes(SUMMARY_CSV, summary_csv(rows))
            sources = [{"run_id": r.ref, "model": r.model, "dataset": r.datasets, "seed": "-" if r.seed is None else str(r.seed)}
                       for r in runs]
            facts = CardFacts(name=name, sources=sources, criterion=str(config.criterion), instruction=str(config.instruction),
                              eval_splits=config.eval_splits, against=config.against, seed=config.seed, report=report, rows=rows,
                              files=[*files, SUMMARY_CSV])
            builder.write_bytes(CARD, dataset_card(facts).encode())
            builder.mark("write")
            stats = {"examples": len(chosen), "mix": report.as_dict(), "summary": [r.model_dump(mode="json") for r in rows],
                     "contamination": dict(got.contamination)}
            return builder.publish(stats=stats, schema_names={FINETUNE_JSONL: "finetune_example", CHAT_JSONL: "chat_example"}), False


def _write_files(builder: Builder, chosen: list[Candidate], config: FinetuneConfig) -> list[str]:
    files: list[str] = []
    examples = [finetune_example(c) for c in chosen]
    chats = [chat_example(c, config.system_prompt) for c in chosen]
    if "jsonl" in config.formats:
        builder.write_records(FINETUNE_JSONL, examples)
        files.append(FINETUNE_JSONL)
    if "chat" in config.formats:
        builder.write_records(CHAT_JSONL, chats)
        files.append(CHAT_JSONL)
    if "csv" in config.formats:
        builder.write_bytes(FINETUNE_CSV, finetune_csv(chosen))
        files.append(FINETUNE_CSV)
    if "parquet" in config.formats:
        builder.write_bytes(FINETUNE_PARQUET, parquet_bytes(examples, FineTuneExample))
        builder.write_bytes(CHAT_PARQUET, parquet_bytes(chats, ChatExample))
        files += [FINETUNE_PARQUET, CHAT_PARQUET]
    info = llama_factory_info(builder.name, files)
    if info:
        builder.write_bytes(LLAMA_FACTORY_INFO, pretty_json(info))
        files.append(LLAMA_FACTORY_INFO)
    return files
