"""coderig score: sandboxed per-test execution of generated code."""

__version__ = "0.1.0"
