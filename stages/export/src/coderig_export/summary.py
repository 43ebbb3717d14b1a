"""datasets_summary.csv: per source dataset, what was scored, what passed (success rates by difficulty),
what was removed (contaminated, duplicate) and what the mix took."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from coderig_schemas import Difficulty
from coderig_schemas.finetune import DatasetSummaryRow
from coderig_schemas.passk import pass_rate

from .files import csv_bytes
from .selection import Candidate


@dataclass
class DatasetTally:
    """Counts gathered for one source dataset while the export runs."""

    scored: Counter[str] = field(default_factory=Counter)  # difficulty label -> samples scored
    passing: Counter[str] = field(default_factory=Counter)  # difficulty label -> samples meeting the criterion
    contaminated: int = 0
    duplicates: int = 0
    clean: int = 0  # unique, uncontaminated passing samples offered to the mix


def _label(d: Difficulty | None) -> str:
    return str(d) if d is not None else "unknown"


def _rate(num: int, den: int) -> float | None:
    rate = pass_rate(num, den)
    return None if rate is None else round(rate, 6)


def _mean_len(texts: list[str]) -> float | None:
    return round(sum(len(t) for t in texts) / len(texts), 2) if texts else None


def summary_rows(tallies: dict[str, DatasetTally], selected: Sequence[Candidate]) -> list[DatasetSummaryRow]:
    """One DatasetSummaryRow per source dataset (sorted), then the 'ALL' row."""
    by_dataset: dict[str, list[Candidate]] = defaultdict(list)
    for c in selected:
        by_dataset[c.dataset].append(c)

    def row(name: str, tally: DatasetTally, chosen: list[Candidate]) -> DatasetSummaryRow:
        diff = Counter(_label(c.difficulty) for c in chosen)
        return DatasetSummaryRow(
            dataset=name, examples=len(chosen), easy=diff["easy"], medium=diff["medium"], hard=diff["hard"],
            unknown_difficulty=diff["unknown"], problems=len({(c.dataset, c.problem_id) for c in chosen}),
            avg_problem_chars=_mean_len([c.instruction for c in chosen]), avg_solution_chars=_mean_len([c.code for c in chosen]),
            scored_samples=sum(tally.scored.values()), passing_samples=sum(tally.passing.values()),
            success_rate=_rate(sum(tally.passing.values()), sum(tally.scored.values())),
            success_rate_easy=_rate(tally.passing["easy"], tally.scored["easy"]),
            success_rate_medium=_rate(tally.passing["medium"], tally.scored["medium"]),
            success_rate_hard=_rate(tally.passing["hard"], tally.scored["hard"]),
            contaminated_removed=tally.contaminated, duplicates_removed=tally.duplicates, not_selected=tally.clean - len(chosen),
        )

    rows = [row(name, tallies[name], by_dataset.get(name, [])) for name in sorted(tallies)]
    total = DatasetTally()
    for t in tallies.values():
        total.scored.update(t.scored)
        total.passing.update(t.passing)
        total.contaminated += t.contaminated
        total.duplicates += t.duplicates
        total.clean += t.clean
    rows.append(row("ALL", total, list(selected)))
    return rows


def summary_csv(rows: Sequence[DatasetSummaryRow]) -> bytes:
    """datasets_summary.csv: the DatasetSummaryRow fields (without schema_version) as columns."""
    columns = [f for f in DatasetSummaryRow.model_fields if f != "schema_version"]
    return csv_bytes(columns, ([getattr(r, f) for f in columns] for r in rows))
