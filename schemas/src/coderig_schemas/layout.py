"""File names inside each stage's published output: part of the contract, like the schemas.

An output is '<runs>/<stage>/<name>/<key>/' holding these files and 'manifest.json'.
"""

from __future__ import annotations

# generate: one output per (model, dataset, split, config, seed); name identity.run_name(identity):
# '<model>__<dataset>__<split>__<settings slug>__s<seed>' (before run identities: '<model>__<dataset>__s<seed>').
PROBLEMS = "problems.jsonl"  # Problem records: the normalized dataset snapshot (no later stage needs the dataset)
SAMPLES = "samples.jsonl"  # Sample records, sorted by (problem order, sample_index)

# score: one output per generate output, same name; reads PROBLEMS and SAMPLES of its input.
RESULTS = "results.jsonl"  # ScoreResult records, one per sample, in SAMPLES order
PASS_AT_K = "pass_at_k.json"  # {"k": [...], "overall": {k: value}, "per_problem": {problem_id: {"n", "c", "pass_at_k": {k: value}}}}

# score reference timings: name 'reftimes__<dataset>' (calibrates the timeouts).
REFERENCE_TIMINGS = "reference_timings.jsonl"  # ReferenceTiming records

# analyze: one output over one or many score outputs.
ANALYSIS = "analysis.json"
SUMMARIES = "summaries.jsonl"  # AnalysisSummary records, one per score output
REPORT = "report.md"

# export: one output over one or many score outputs.
FINETUNE_JSONL = "finetune.jsonl"  # FineTuneExample records
CHAT_JSONL = "chat.jsonl"  # ChatExample records


def default_name(model: str, dataset: str, seed: int | None) -> str:
    """The output name generate used before run identities, e.g. 'tiny-random__humaneval__s0'.

    Kept to read and build stores of that time; new outputs are named by ``identity.run_name``, whose
    names start with the same '<model>__<dataset>__' (so 'model__dataset__*' matches both).
    """
    # ASCII only: the run store's names are (str.isalnum() is also true of letters such as 'è').
    safe_model = "".join(c if (c.isascii() and c.isalnum()) or c in "._+=-" else "-" for c in model).strip("-.") or "model"
    return f"{safe_model}__{dataset}__s{'none' if seed is None else seed}"
