"""coderig export: fine-tuning datasets and XLSX workbooks from scored runs."""

__version__ = "0.1.0"
