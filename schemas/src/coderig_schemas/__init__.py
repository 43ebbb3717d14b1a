"""coderig's contract: the records every stage reads and writes, and the run store.

Stages import this package and never each other. A stage rewritten in another language only
needs the JSON Schema files generated from these models (``schemas/json``).
"""

from .analysis import AnalysisSummary, BucketStats, DifficultyBreakdown, Interval
from .errors import CoderigError, ConflictError, ExitCode, InvalidInputError, UsageError
from .finetune import ChatExample, FineTuneExample
from .identity import RunIdentity, run_name
from .manifest import Environment, FileEntry, InputRef, Manifest
from .problem import Difficulty, DifficultySource, Problem, TestCase, Visibility
from .sample import ChatMessage, ExtractionMethod, FinishReason, Sample, SamplingParams
from .score import AnswerMethod, ExtractedAnswer, ReferenceTiming, ScoreResult, TestOutcome, TestStatus, Verdict
from .scored import ScoredRow, ScoredRun, open_scored_run
from .store import Builder, PublishedOutput, RunStore
from .tasks import (
    PRIMARY_METRIC,
    AnswerExtraction,
    AnswerFormat,
    FunctionCallCategory,
    FunctionCallingGrading,
    InstructionFollowingGrading,
    MathGrading,
    TaskType,
)

__version__ = "0.1.0"

__all__ = [
    "PRIMARY_METRIC", "AnalysisSummary", "AnswerExtraction", "AnswerFormat", "AnswerMethod", "BucketStats",
    "Builder", "ChatExample", "ChatMessage", "CoderigError", "ConflictError", "Difficulty", "DifficultyBreakdown",
    "DifficultySource", "Environment", "ExitCode", "ExtractedAnswer", "ExtractionMethod", "FileEntry",
    "FineTuneExample", "FinishReason", "FunctionCallCategory", "FunctionCallingGrading", "InputRef",
    "InstructionFollowingGrading", "Interval", "InvalidInputError", "Manifest", "MathGrading", "Problem",
    "PublishedOutput", "ReferenceTiming", "RunIdentity", "RunStore", "Sample", "SamplingParams", "ScoreResult",
    "ScoredRow", "ScoredRun", "TaskType", "TestCase", "TestOutcome", "TestStatus", "UsageError", "Verdict", "Visibility",
    "open_scored_run", "run_name",
]
