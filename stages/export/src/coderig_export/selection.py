"""Which scored samples count as passing, and the candidate example taken from each one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coderig_schemas import Difficulty, Problem, ScoreResult, TaskType, Verdict

from .load import ScoredRow


class PassCriterion(StrEnum):
    """What a sample must pass to become a fine-tuning example."""

    ALL_TESTS = "all_tests"  # verdict 'passed' with every test passed, hidden tests included (the default)
    VISIBLE_ONLY = "visible_only"  # every visible test passed; hidden tests may fail


def meets(result: ScoreResult, criterion: PassCriterion) -> bool:
    """Whether a scored sample meets the pass criterion.

    ``all_tests`` needs the verdict 'passed' and every test (visible and hidden) passed.
    ``visible_only`` needs at least one visible test and all of them passed; a sample that did not
    compile, timed out on a visible test or had no code never qualifies. A non-code sample (a math
    answer) has only hidden checks, so under either criterion it must have passed.
    """
    if criterion is PassCriterion.ALL_TESTS or result.task_type != TaskType.CODE:
        every_test = result.tests_passed == result.tests_total and result.hidden_passed == result.hidden_total
        return result.verdict is Verdict.PASSED and every_test
    return result.visible_total > 0 and result.visible_passed == result.visible_total


class InstructionSource(StrEnum):
    """Where an example's instruction comes from."""

    PROMPT = "prompt"  # the user turn as sent to the model (what its answer responds to), else the statement
    STATEMENT = "statement"  # the problem statement as the dataset gives it, whatever the template


@dataclass(frozen=True)
class Candidate:
    """A passing sample about to become a fine-tuning example."""

    dataset: str
    split: str
    problem_id: str
    difficulty: Difficulty | None
    instruction: str
    system: str | None  # the system turn as sent, when the instruction is the prompt as sent
    code: str  # the passing code; for a non-code task (math) the full response, reasoning included
    passed: bool  # the scorer's overall verdict (may be False under visible_only)
    example_id: str
    run_id: str
    task_type: TaskType = TaskType.CODE
    task_id: str | None = None  # the dataset's own id of the problem (see source_id)

    @property
    def is_code(self) -> bool:
        """Whether the example's answer is a program (else prose, e.g. a worked math solution)."""
        return self.task_type == TaskType.CODE


#: Keys of Problem.source that hold the dataset's own id, by the datasets' own names (HumanEval, MBPP,
#: LeetCode and the math sets: task_id; another tool's MBPP copy: mbpp_id; IFEval: key; BFCL: id).
_SOURCE_ID_KEYS = ("task_id", "mbpp_id", "key", "id")


def source_id(problem: Problem) -> str:
    """The dataset's own id of a problem, as text (MBPP's task_id 11 -> '11'); coderig's problem_id when it has none.

    Text, never a number: one JSONL column mixing MBPP's integers and HumanEval's strings would make
    ``datasets`` (Arrow) refuse the file.
    """
    for key in _SOURCE_ID_KEYS:
        value = problem.source.get(key)
        if value is not None and value != "":
            return str(value)
    return problem.problem_id


def instruction_of(row: ScoredRow, source: InstructionSource) -> tuple[str, str | None]:
    """(instruction, system turn) of a scored row.

    ``prompt``: the last user message as sent and the system message, when the sample kept chat
    messages; else the prompt text as sent (a completion prompt); else the statement.
    ``statement``: the problem statement and no system turn.
    """
    sample = row.sample
    if source is InstructionSource.PROMPT:
        if sample.prompt_messages:
            users = [m.content for m in sample.prompt_messages if m.role == "user"]
            systems = [m.content for m in sample.prompt_messages if m.role == "system"]
            if users:
                return users[-1], (systems[0] if systems else None)
        if sample.prompt_text:
            return sample.prompt_text, None
    return row.problem.prompt, None


def candidate(row: ScoredRow, source: InstructionSource = InstructionSource.PROMPT) -> Candidate:
    """The candidate example of a scored row: the instruction (see :func:`instruction_of`) and the extracted code
    (for a non-code task, the full response: question -> response), with LF line ends."""
    difficulty = row.problem.difficulty if row.problem.difficulty is not None else row.result.difficulty
    instruction, system = instruction_of(row, source)
    task_type = row.problem.task_type
    answer = row.sample.extracted_code if task_type == TaskType.CODE else row.sample.raw_response
    return Candidate(
        dataset=row.problem.dataset, split=row.problem.split, problem_id=row.problem.problem_id, difficulty=difficulty,
        # Windows line ends (MBPP's reference code has them) would teach a model to write them.
        instruction=instruction, system=system, code=answer.replace("\r\n", "\n"), passed=row.result.passed,
        example_id=f"{row.sample.sample_id}@{row.run.key}", run_id=row.run.ref, task_type=task_type,
        task_id=source_id(row.problem),
    )
