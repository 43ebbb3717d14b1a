"""The exported dataset's card (README.md with Hugging Face front matter): sources and their licences,
filters, counts and how to load the files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coderig_schemas.finetune import DatasetSummaryRow
from coderig_schemas.layout import CHAT_JSONL, FINETUNE_JSONL

from .files import CHAT_PARQUET, FINETUNE_PARQUET, LLAMA_FACTORY_INFO
from .mix import MixReport

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
