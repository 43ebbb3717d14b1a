"""The one exit-code table shared by every coderig tool, and the exceptions that map to it."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of every coderig command (documented in the README)."""

    OK = 0
    FAILURE = 1  # an unexpected error (a bug, an engine crash)
    USAGE = 2  # bad command-line usage (Click's own code)
    INVALID_INPUT = 3  # invalid input file or record, contract violation, input hash mismatch
    CONFLICT = 4  # conflict with an existing or concurrently built output
    INTERRUPTED = 130  # interrupted (SIGINT / SIGTERM); the partial work is kept for resume


class CoderigError(Exception):
    """Base of the errors a command reports as one line and a documented exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The error as printed: what and where, then how to fix it."""
        return f"{self.message}; {self.hint}" if self.hint else self.message


class InvalidInputError(CoderigError):
    """A file, record or reference does not satisfy the contract."""

    exit_code = ExitCode.INVALID_INPUT


class ConflictError(CoderigError):
    """The output exists with something else in it, or another process is building it."""

    exit_code = ExitCode.CONFLICT


class UsageError(CoderigError):
    """Options that parse but do not make sense together."""

    exit_code = ExitCode.USAGE
