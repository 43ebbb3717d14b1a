"""The fine-tuning dataset's files: records, CSV, parquet, the per-dataset summary and the dataset card."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from coderig_schemas import ChatExample, ChatMessage, Difficulty, FineTuneExample
from coderig_schemas.finetune import DatasetSummaryRow
from coderig_schemas.layout import CHAT_JSONL, FINETUNE_JSONL

from .mix import MixReport
from .selection import Candidate

FINETUNE_CSV = "finetune.csv"
FINETUNE_PARQUET = "finetune.parquet"
CHAT_PARQUET = "chat.parquet"
SUMMARY_CSV = "datasets_summary.csv"
CARD = "README.md"
LLAMA_FACTORY_INFO = "dataset_info.json"

#: Formats a user may ask for; the dataset card, the summary and LLaMA-Factory's dataset_info.json are always written.
FORMATS: tuple[str, ...] = ("jsonl", "chat", "csv", "parquet")
DEFAULT_FORMATS: tuple[str, ...] = ("jsonl", "chat", "csv")

#: Columns of finetune.csv, in order.
CSV_COLUMNS: tuple[str, ...] = ("problem_id", "prompt", "response", "difficulty", "passed", "run_id")

#: Licences of the datasets of coderig's registry, for the dataset card.
LICENCES: dict[str, str] = {
    "humaneval": "MIT (OpenAI)",
    "humaneval_plus": "Apache-2.0 (EvalPlus)",
    "mbpp": "CC-BY-4.0 (Google)",
    "mbpp_sanitized": "CC-BY-4.0 (Google)",
    "leetcode": "MIT (LeetCodeDataset); problem text from LeetCode",
    "leetcode_hard": "MIT (LeetCodeDataset); problem text from LeetCode",
    "math500": "MIT (MATH: Hendrycks et al.; the 500-problem subset: OpenAI PRM800K)",
    "gsm8k": "MIT (OpenAI)",
    "aime24": "problems (c) the Mathematical Association of America",
    "aime25": "problems (c) the Mathematical Association of America",
    "amc23": "problems (c) the Mathematical Association of America",
    "ifeval": "Apache-2.0 (Google Research, instruction_following_eval)",
    "bfcl_simple": "Apache-2.0 (Gorilla, Berkeley Function Calling Leaderboard)",
    "bfcl_multiple": "Apache-2.0 (Gorilla, Berkeley Function Calling Leaderboard)",
    "bfcl_parallel": "Apache-2.0 (Gorilla, Berkeley Function Calling Leaderboard)",
}


def finetune_example(c: Candidate) -> FineTuneExample:
    """The instruction-format record of a candidate."""
    return FineTuneExample(instruction=c.instruction, input="", output=c.code, difficulty=c.difficulty, id=c.example_id, run_id=c.run_id,
                           dataset=c.dataset, problem_id=c.problem_id, task_id=c.task_id)


def chat_example(c: Candidate, system: str | None = None) -> ChatExample:
    """The chat-format record: a system turn (``system``, else the one sent with the prompt, if any), the
    instruction as user turn, and the code in a fenced block as assistant turn (a non-code answer, such
    as a worked math solution, verbatim)."""
    system = system or c.system
    turns = [ChatMessage(role="system", content=system)] if system else []
    answer = f"```python\n{c.code.rstrip()}\n```" if c.is_code else c.code
    turns += [
        ChatMessage(role="user", content=c.instruction),
        ChatMessage(role="assistant", content=answer),
    ]
    return ChatExample(messages=turns, difficulty=c.difficulty, id=c.example_id, run_id=c.run_id,
                       dataset=c.dataset, problem_id=c.problem_id, task_id=c.task_id)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """RFC 4180 CSV (UTF-8, CRLF line ends, quoted where needed); None becomes an empty cell."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode()


def finetune_csv(candidates: Iterable[Candidate]) -> bytes:
    """finetune.csv: one row per example with CSV_COLUMNS."""
    return csv_bytes(CSV_COLUMNS, ((c.problem_id, c.instruction, c.code, c.difficulty, c.passed, c.run_id) for c in candidates))


def parquet_bytes(records: Sequence[FineTuneExample] | Sequence[ChatExample], model: type[FineTuneExample] | type[ChatExample]) -> bytes:
    """The records of model as one parquet file (nested messages stay nested).

    The column types are fixed rather than inferred: an empty export still has its columns, and a
    set whose difficulties are all unknown still has a string ``difficulty`` column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "schema_version": pa.int64(), "instruction": pa.string(), "input": pa.string(), "output": pa.string(),
        "difficulty": pa.string(), "id": pa.string(), "run_id": pa.string(),
        "dataset": pa.string(), "problem_id": pa.string(), "task_id": pa.string(),
        "messages": pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])),
    }
    schema = pa.schema([(name, types[name]) for name in model.model_fields])
    table = pa.Table.from_pylist([r.model_dump(mode="json") for r in records], schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


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
    return round(num / den, 6) if den else None


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


def llama_factory_info(name: str, files: Sequence[str]) -> dict[str, object]:
    """LLaMA-Factory's dataset_info.json entries for the written JSONL files (alpaca and sharegpt/messages)."""
    info: dict[str, object] = {}
    if FINETUNE_JSONL in files:
        info[f"{name}_instruction"] = {
            "file_name": FINETUNE_JSONL, "formatting": "alpaca",
            "columns": {"prompt": "instruction", "query": "input", "response": "output"},
        }
    if CHAT_JSONL in files:
        info[f"{name}_chat"] = {
            "file_name": CHAT_JSONL, "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant", "system_tag": "system",
            },
        }
    return info


@dataclass(frozen=True)
class CardFacts:
    """Everything the dataset card states."""

    name: str
    sources: Sequence[dict[str, str]]  # run_id, model, dataset, seed
    criterion: str
    instruction: str  # 'prompt' or 'statement'
    eval_splits: Sequence[str]  # the rules; empty when --include-eval-splits
    against: Sequence[str]
    seed: int
    report: MixReport
    rows: Sequence[DatasetSummaryRow]
    files: Sequence[str]


CRITERION_TEXT = {
    "all_tests": "(verdict passed, every visible and hidden test passed).",
    "visible_only": "(every visible test passed; hidden tests not required).",
}


def _licence(dataset: str) -> str:
    return LICENCES.get(dataset, "see the dataset")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _builder(file: str) -> str:
    return "parquet" if file.endswith(".parquet") else "json"


def _decontamination_text(eval_splits: Sequence[str], against: Sequence[str]) -> str:
    """The card's decontamination line: the split rules (off with --include-eval-splits) and the --against outputs."""
    against_text = ", ".join(f"`{a}`" for a in against)
    if eval_splits:
        text = ", ".join(f"`{r}`" for r in eval_splits) + " left out, with any problem sharing an id or statement with them"
        return text + (f"; also every problem of {against_text}" if against else "") + "."
    if against:
        return (f"evaluation splits kept (`--include-eval-splits`); every problem of {against_text} left out, with any "
                "problem sharing an id or statement with them.")
    return "**not** decontaminated (`--include-eval-splits`): evaluation problems are included."


def dataset_card(f: CardFacts) -> str:
    """The README.md of the exported dataset (Hugging Face dataset card front matter included)."""
    # Each config points at its JSONL file, else its parquet file (--formats parquet without jsonl or chat).
    instruction_file = next((n for n in (FINETUNE_JSONL, FINETUNE_PARQUET) if n in f.files), None)
    chat_file = next((n for n in (CHAT_JSONL, CHAT_PARQUET) if n in f.files), None)
    configs = []
    if instruction_file:
        configs.append(f"- config_name: instruction\n  data_files: {instruction_file}\n  default: true")
    if chat_file:
        configs.append(f"- config_name: chat\n  data_files: {chat_file}" + ("" if configs else "\n  default: true"))
    total = f.rows[-1]
    datasets = sorted({s["dataset"] for s in f.sources})
    lines = [
        "---",
        *(["configs:", *configs] if configs else []),  # an empty 'configs:' is null, which the Hub refuses
        "task_categories:\n- text-generation",
        "tags:\n- code\n- coderig",
        "---",
        "",
        f"# {f.name}",
        "",
        f"Code fine-tuning data exported by coderig from {len(f.sources)} scored run(s): {total.examples} examples of "
        f"{total.problems} problems, each a model's answer that passed the problem's tests.",
        "",
        "## Sources",
        "",
        "| run | model | dataset | seed | licence of the problems |",
        "|---|---|---|---|---|",
        *(f"| `{s['run_id']}` | {s['model']} | {s['dataset']} | {s['seed']} | {_licence(s['dataset'])} |" for s in f.sources),
        "",
        "## Filters",
        "",
        f"- Pass criterion: **{f.criterion}** " + CRITERION_TEXT.get(f.criterion, ""),
        "- Deduplicated: one example per problem and normalized code (comments, docstrings and layout removed with `ast`).",
        "- Decontaminated: " + _decontamination_text(f.eval_splits, f.against),
        "- Instruction: " + ("the prompt as the model received it (the user turn; the chat form keeps its system turn)."
                             if f.instruction == "prompt" else "the problem statement as the dataset gives it."),
        f"- Mix: **{f.report.mix}**" + (f", target size {f.report.size}" if f.report.size is not None else "") + f", seed {f.seed}.",
        "",
        "## Counts",
        "",
        "| difficulty | ratio | available | target | taken | short |",
        "|---|---|---|---|---|---|",
        *(f"| {b.difficulty} | {'-' if b.ratio is None else f'{b.ratio:.3f}'} | {b.available} | {b.target} | {b.taken} | {b.short} |"
          for b in f.report.buckets),
        "",
        "Achieved mix: " + ", ".join(f"{k} {_pct(v)}" for k, v in f.report.achieved().items())
        + (f"; {f.report.unknown_dropped} examples without a difficulty left out." if f.report.unknown_dropped else "."),
    ]
    scarce = f.report.limited_by
    if scarce is not None:
        lines += ["", f"**Limited:** the scarcest bucket, {scarce.difficulty} ({scarce.available} available), sets the size of "
                      "this exact-ratio mix; examples of the other buckets were left out."]
    if f.report.shortfalls or f.report.total_short:
        short = [f"{b.difficulty} short by {b.short}" for b in f.report.shortfalls]
        if f.report.total_short and not short:
            short.append(f"{f.report.total_short} fewer than the size asked")
        lines += ["", f"**Short:** {'; '.join(short)}: the inputs do not hold enough clean, unique passing samples."]
    lines += [
        "",
        "| dataset | examples | easy | medium | hard | unknown | avg problem chars | avg solution chars | success rate "
        "| contaminated removed | duplicates removed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(f"| {r.dataset} | {r.examples} | {r.easy} | {r.medium} | {r.hard} | {r.unknown_difficulty} | {r.avg_problem_chars or '-'} | "
          f"{r.avg_solution_chars or '-'} | {_pct(r.success_rate)} | {r.contaminated_removed} | {r.duplicates_removed} |" for r in f.rows),
        "",
        "## Files",
        "",
        *(f"- `{name}`" for name in f.files),
        "",
        "## Use",
        "",
        "```python",
        "from datasets import load_dataset",
        *([f'ds = load_dataset("{_builder(instruction_file)}", data_files="{instruction_file}", split="train")'
           "  # instruction, input, output"] if instruction_file else []),
        *([f'chat = load_dataset("{_builder(chat_file)}", data_files="{chat_file}", split="train")  # messages: TRL SFTTrainer, axolotl']
          if chat_file else []),
        "```",
        "",
        f"LLaMA-Factory: copy the entries of `{LLAMA_FACTORY_INFO}` into its `data/dataset_info.json`.",
        "",
        f"Datasets: {', '.join(datasets)}. Problem statements keep their source licence; solutions were generated by the models listed.",
        "",
    ]
    return "\n".join(lines)


def pretty_json(obj: object) -> bytes:
    """Indented JSON bytes with a final newline."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
