"""The numbers of the workbook's summary sheets: pass and solve rates per configuration (its seeds
together), per run and per problem, each by difficulty, counted as the scored rows stream by.

The rates come from the contract's one definition (``coderig_schemas.passk``); the workbook writer
(``xlsx.py``) lays these rows out and computes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from coderig_schemas.passk import PassTally, pass_rate

from .load import ScoredRow

#: How difficulty buckets are ordered within a run or configuration ('all' first).
BUCKET_ORDER = {"all": 0, "easy": 1, "medium": 2, "hard": 3, "unknown": 4}

ConfigKey = tuple[str, str, str, str, str]


def difficulty_of(row: ScoredRow) -> str | None:
    """A scored sample's difficulty label: the result's, else its problem's (None: unknown)."""
    return str(row.result.difficulty or row.problem.difficulty or "") or None


@dataclass(frozen=True)
class RunLabel:
    """How one run is named in the workbook, with its identity's configuration (coderig_schemas.identity)."""

    ref: str
    name: str
    model: str
    dataset: str
    seed: int | None
    split: str | None = None
    config: str = ""  # RunIdentity.label(), e.g. 'T=0.8 top_p=0.95 max=1024 tpl=chat'
    config_id: str = ""  # RunIdentity.config_id: runs sharing it differ only by seed

    @property
    def config_key(self) -> ConfigKey:
        """What the Summary sheet groups by: one configuration (its seeds together, never two configurations)."""
        return (self.model, self.dataset, self.split or "", self.config_id, self.config)


@dataclass(frozen=True)
class Rates:
    """Samples and problems of one bucket, with the pass rate (samples) and solve rate (problems); an
    empty bucket's rates are 0."""

    samples: int
    passed: int
    pass_rate: float
    problems: int
    solved: int
    solve_rate: float

    @classmethod
    def of(cls, t: PassTally) -> Rates:
        """The rates of a tally."""
        return cls(samples=t.samples, passed=t.passed, pass_rate=t.pass_rate() or 0.0, problems=len(t.problems),
                   solved=t.solved, solve_rate=t.solve_rate() or 0.0)


@dataclass(frozen=True)
class ConfigRow:
    """A Summary sheet row: one configuration and difficulty bucket over its runs (seeds)."""

    model: str
    dataset: str
    split: str
    config_id: str
    config: str
    bucket: str
    runs: int
    rates: Rates


@dataclass(frozen=True)
class RunRow:
    """A Runs sheet row: one run and difficulty bucket."""

    label: RunLabel
    bucket: str
    rates: Rates


@dataclass(frozen=True)
class ProblemRow:
    """A Compare sheet row: one problem's pass rate in each run (None: the run did not have it)."""

    dataset: str
    problem_id: str
    difficulty: str
    rates: tuple[float | None, ...]  # in the order of WorkbookRates.labels()


class WorkbookRates:
    """Counts every scored sample of the workbook by run, configuration, difficulty and problem."""

    def __init__(self) -> None:
        self._labels: dict[str, RunLabel] = {}
        self._runs: dict[tuple[str, str], PassTally] = defaultdict(PassTally)  # (run ref, difficulty or 'all')
        # (configuration, difficulty or 'all'): per configuration, never pooled across them
        self._configs: dict[tuple[ConfigKey, str], PassTally] = defaultdict(PassTally)
        self._config_runs: dict[ConfigKey, set[str]] = defaultdict(set)  # configuration -> run refs
        self._problems: dict[tuple[str, str], dict[str, PassTally]] = defaultdict(dict)  # (dataset, problem) -> run -> tally
        self._difficulty: dict[tuple[str, str], str] = {}

    def add(self, label: RunLabel, dataset: str, problem_id: str, difficulty: str | None, passed: bool) -> None:
        """Count one scored sample of a run (``difficulty`` None: 'unknown')."""
        self._labels.setdefault(label.ref, label)
        for bucket in ("all", difficulty or "unknown"):
            self._runs[(label.ref, bucket)].add(problem_id, passed)
            self._configs[(label.config_key, bucket)].add(problem_id, passed)
        self._config_runs[label.config_key].add(label.ref)
        self._problems[(dataset, problem_id)].setdefault(label.ref, PassTally()).add(problem_id, passed)
        self._difficulty.setdefault((dataset, problem_id), difficulty or "")

    def labels(self) -> list[RunLabel]:
        """The runs counted, sorted by ref (the Compare sheet's columns)."""
        return [self._labels[ref] for ref in sorted(self._labels)]

    def configs(self) -> Iterator[ConfigRow]:
        """Summary rows, by configuration then bucket."""
        for (key, bucket), t in sorted(self._configs.items(), key=lambda kv: (*kv[0][0], BUCKET_ORDER.get(kv[0][1], 9))):
            model, dataset, split, config_id, config = key
            yield ConfigRow(model=model, dataset=dataset, split=split, config_id=config_id, config=config, bucket=bucket,
                            runs=len(self._config_runs[key]), rates=Rates.of(t))

    def config_count(self) -> int:
        """Rows of :meth:`configs`."""
        return len(self._configs)

    def runs(self) -> Iterator[RunRow]:
        """Runs rows, by run then bucket."""
        for (ref, bucket), t in sorted(self._runs.items(), key=lambda kv: (kv[0][0], BUCKET_ORDER.get(kv[0][1], 9))):
            yield RunRow(label=self._labels[ref], bucket=bucket, rates=Rates.of(t))

    def run_count(self) -> int:
        """Rows of :meth:`runs`."""
        return len(self._runs)

    def problems(self) -> Iterator[ProblemRow]:
        """Compare rows, by dataset then problem: each run's share of passing samples of the problem."""
        refs = sorted(self._labels)
        for (dataset, problem), per_run in sorted(self._problems.items()):
            rates = tuple(None if (t := per_run.get(ref)) is None else pass_rate(t.passed, t.samples) for ref in refs)
            yield ProblemRow(dataset=dataset, problem_id=problem, difficulty=self._difficulty[(dataset, problem)], rates=rates)

    def problem_count(self) -> int:
        """Rows of :meth:`problems`."""
        return len(self._problems)
