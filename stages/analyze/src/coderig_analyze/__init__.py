"""coderig analyze: pass rates, pass@k, confidence intervals and comparison reports."""

__version__ = "0.1.0"
