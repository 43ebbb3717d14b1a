"""The Markdown report (and a self-contained HTML rendering of it).

Links point from the published analysis directory ('<runs>/analyze/<name>/<key>/') back into the
run store with relative paths, so the report still works when the store is moved or mounted
elsewhere.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coderig_schemas.analysis import Analysis, RunAnalysis
from coderig_schemas.layout import RESULTS, SAMPLES

from .matrix import matrix_heading, matrix_markdown
from .verdicts import VERDICTS

#: From an analysis output directory to the store root.
TO_STORE = "../../../"
#: Failure kinds listed, and example links per kind.
TOP_FAILURES, EXAMPLES = 10, 3
#: Problem ids listed per dataset in the never/always solved lists; paired comparisons listed.
LIST_PROBLEMS, LIST_PAIRS = 20, 50

CHARTS = {
    "pass_rate_by_model.png": "Pass rate by model (best configuration, with CI)",
    "difficulty_breakdown.png": "Pass rate by difficulty",
    "verdict_distribution.png": "Verdict distribution",
    "seed_spread.png": "Spread across seeds",
}


@dataclass
class ReportInputs:
    """What the report is written from."""

    analysis: Analysis
    seeds: pd.DataFrame  # config_analysis.csv rows (one per configuration, over its seeds)
    best: pd.DataFrame  # best configuration per (model, dataset)
    failures: pd.DataFrame  # most common failures: dataset, verdict, exception_type, count, share, examples
    charts: list[str]  # chart file names written
    breakdowns: pd.DataFrame | None = None  # breakdowns.csv rows (model_name, dataset, seed, kind, bucket, ...)


def pct(x: float | None) -> str:
    """A rate as a percentage with one decimal ('—' when unknown)."""
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.1%}"


def num(x: float | None, digits: int = 1) -> str:
    """A number with fixed decimals ('—' when unknown)."""
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def level_text(level: float) -> str:
    """A confidence level as a percentage: '95%', '97.5%'."""
    return f"{level * 100:.10g}%"


def link(text: str, ref: str, rel: str, line: int | None = None) -> str:
    """A relative Markdown link to a file of a published output (optionally a line)."""
    anchor = f"#L{line}" if line else ""
    return f"[{text}]({TO_STORE}{ref}/{rel}{anchor})"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    if not rows:
        return "_None._\n"
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _run_label(r: RunAnalysis) -> str:
    """model / dataset / split / settings label / seed: distinct for every run of a sweep (two temperatures too)."""
    seed = "none" if r.config.seed is None else r.config.seed
    split = f" / {r.config.split}" if r.config.split else ""
    label = f" / {r.config.label}" if r.config.label else ""
    return f"{r.config.model_name} / {r.config.dataset}{split}{label} / s{seed}"


def _config_cell(label: object, config_id: object) -> str:
    """A configuration as a reader sees it: its settings label, then its id (the hash the CSVs key on)."""
    text = label if isinstance(label, str) and label else "settings unknown"
    return f"{text} ({config_id})"


def _runs_section(runs: list[RunAnalysis], level: float) -> str:
    rows = []
    for r in runs:
        s = r.summary
        k_max = max((int(k) for k in r.pass_at_k_ci), default=0)
        top = r.pass_at_k_ci.get(str(k_max))
        scored = f"{s.total_samples}" + ("" if r.complete else f" of {r.samples_expected} (partial)")
        rows.append([
            _run_label(r), r.config.config_id, str(s.total_problems), scored,
            f"{pct(s.pass_rate)} [{pct(ci.low)}, {pct(ci.high)}]" if (ci := s.pass_rate_ci) else pct(s.pass_rate),
            f"{pct(top.estimate)} [{pct(top.low)}, {pct(top.high)}] (k={k_max})" if top else "—",
            link("results", s.run_ref, RESULTS),
        ])
    return table(["run", "config", "problems", "samples", f"pass rate [{level_text(level)} CI]", "pass@k max", "data"], rows)


def _metrics_section(a: Analysis) -> str:
    """Every run's task-type metrics with their intervals (IFEval: prompt/instruction level, strict/loose)."""
    labels = {r.summary.run_ref: _run_label(r) for r in a.runs}
    rows = [[labels.get(m.run_ref, m.run_ref), m.task_type.value, name + (" (primary)" if name == m.metric else ""),
             pct(iv.estimate), f"[{pct(iv.low)}, {pct(iv.high)}]", iv.method]
            for m in a.metrics for name, iv in m.values.items()]
    return table(["run", "task type", "metric", "value", f"{level_text(a.level)} CI", "interval"], rows)


def _config_text(row: pd.Series) -> str:
    """The configuration's label (RunIdentity.label), its prompt template and preset."""
    label = row.get("label")
    parts = [label if isinstance(label, str) and label else "settings unknown"]
    template = row.get("template")
    if isinstance(template, str) and template:
        parts.append(f"template={template}")
    preset = row.get("preset")
    if preset is not None and not pd.isna(preset):
        parts.append(f"preset={preset}")
    return ", ".join(parts)


def _best_section(best: pd.DataFrame) -> str:
    rows = [[str(r["model_name"]), str(r["dataset"]), str(r["config_id"]), _config_text(r), str(r["runs"]),
             f"{pct(r['mean'])} ± {pct(r['std'])}"] for _, r in best.iterrows()]
    return table(["model", "dataset", "config", "settings", "seeds", "mean ± std"], rows)


def _seeds_section(seeds: pd.DataFrame, level: float) -> str:
    rows = [[str(r["model_name"]), str(r["dataset"]), _config_cell(r.get("label"), r["config_id"]), str(r["seeds"]),
             pct(r["mean"]), pct(r["std"]),
             f"{pct(r['min'])} – {pct(r['max'])}", f"[{pct(r['ci_low'])}, {pct(r['ci_high'])}]"] for _, r in seeds.iterrows()]
    return table(["model", "dataset", "config", "seeds", "mean", "std", "min – max", f"{level_text(level)} CI of mean"], rows)


def _reasoning_section(seeds: pd.DataFrame, level: float) -> str:
    """Non-code configurations as reasoning suites report them: the metric over seeds, response length, truncation."""
    rows = [[str(r["model_name"]), str(r["dataset"]), _config_text(r), str(r["seeds"]), str(r["metric"]),
             f"{pct(r['mean'])} ± {pct(r['std'])}", f"[{pct(r['ci_low'])}, {pct(r['ci_high'])}]",
             num(r["response_tokens_mean"], 0), num(r["response_chars_mean"], 0), pct(r["truncated_share"])]
            for _, r in seeds.iterrows() if r.get("task_type") not in (None, "code") and not pd.isna(r.get("task_type"))]
    return table(["model", "dataset", "settings", "seeds", "metric", "mean ± std", f"{level_text(level)} CI",
                  "response tokens", "response chars", "truncated"], rows)


def _by_level_and_subject(breakdowns: pd.DataFrame) -> str:
    """Mean over seeds of the rate per MATH level and subject (tag), per model and dataset."""
    part = breakdowns[breakdowns["kind"].isin(["level", "tag"])]
    if part.empty:
        return "_None._\n"
    grouped = part.groupby(["dataset", "model_name", "kind", "bucket"], sort=True).agg(
        problems=("total", "max"), rate=("pass_rate", "mean"), seeds=("seed", "size")).reset_index()
    rows = [[str(r.dataset), str(r.model_name), "level" if r.kind == "level" else "subject", str(r.bucket), str(r.problems),
             pct(r.rate), str(r.seeds)] for r in grouped.itertuples(index=False)]
    return table(["dataset", "model", "by", "bucket", "problems", "mean rate", "seeds"], rows)


def _paired_section(a: Analysis) -> str:
    rows = []
    # Strongest evidence first; a sweep has hundreds of pairs, all of them in paired.csv.
    ranked = sorted(a.paired, key=lambda p: (p.mcnemar_p, -abs(p.difference.estimate), p.dataset, p.a_ref, p.b_ref))
    seed = {r.summary.run_ref: "none" if r.config.seed is None else r.config.seed for r in a.runs}
    label = {r.summary.run_ref: f" `{r.config.label}`" if r.config.label else "" for r in a.runs}
    for p in ranked[:LIST_PAIRS]:
        verdict = "A better" if p.mcnemar_p < 1 - a.level and p.difference.estimate > 0 else (
            "B better" if p.mcnemar_p < 1 - a.level and p.difference.estimate < 0 else "no significant difference")
        a_label = f"{p.a_model}{label.get(p.a_ref, '')} s{seed.get(p.a_ref, '?')}"
        b_label = f"{p.b_model}{label.get(p.b_ref, '')} s{seed.get(p.b_ref, '?')}"
        rows.append([p.dataset, a_label, b_label, str(p.problems), pct(p.a_rate), pct(p.b_rate),
                     f"{p.difference.estimate:+.1%} [{p.difference.low:+.1%}, {p.difference.high:+.1%}]",
                     f"{p.a_only} / {p.b_only}", f"{p.mcnemar_p:.4g}", verdict])
    more = f"\n{len(ranked) - LIST_PAIRS} more comparisons in `paired.csv`.\n" if len(ranked) > LIST_PAIRS else ""
    header = ["dataset", "A", "B", "problems", "A rate", "B rate", f"A − B [{level_text(a.level)} CI]", "only A / only B",
              "McNemar p", "reading"]
    return table(header, rows) + more


def _difficulty_section(runs: list[RunAnalysis]) -> str:
    rows = []
    for r in runs:
        d = r.summary.difficulty_breakdown
        cells = [f"{pct(b.pass_rate)} ({b.passed}/{b.total})" if b.total else "—" for b in (d.easy, d.medium, d.hard)]
        rows.append([_run_label(r), *cells])
    return table(["run", "easy", "medium", "hard"], rows)


def _problems_section(a: Analysis) -> str:
    out = []
    for p in a.problems:
        out.append(f"**{p.dataset}**: {p.problems} problems, {p.models} model(s); empirically "
                   f"{p.empirical.get('easy', 0)} easy, {p.empirical.get('medium', 0)} medium, {p.empirical.get('hard', 0)} hard.\n")
        for label, ids in (("Failed by every run", p.never_solved), ("Passed by every sample of every run", p.always_solved)):
            more = f" and {len(ids) - LIST_PROBLEMS} more" if len(ids) > LIST_PROBLEMS else ""
            shown = ", ".join(f"`{i}`" for i in ids[:LIST_PROBLEMS]) + more
            out.append(f"- {label} ({len(ids)}): {shown or '—'}")
        out.append("")
    return "\n".join(out) + "\n" if out else "_None._\n"


def _verdicts_section(runs: list[RunAnalysis]) -> str:
    present = [v for v in VERDICTS if any(r.summary.verdict_counts.get(v, 0) for r in runs)]
    rows = [[_run_label(r), *[f"{r.summary.verdict_counts.get(v, 0)} ({pct(r.verdict_shares.get(v, 0.0))})" for v in present]]
            for r in runs]
    return table(["run", *present], rows)


def _failures_section(failures: pd.DataFrame) -> str:
    rows = [[str(r["dataset"]), str(r["verdict"]), str(r["exception_type"] or "—"), str(r["count"]), pct(r["share"]), r["examples"]]
            for _, r in failures.iterrows()]
    return table(["dataset", "verdict", "exception", "samples", "share of failures", "examples"], rows)


def _generation_section(runs: list[RunAnalysis]) -> str:
    rows = []
    for r in runs:
        methods = ", ".join(f"{k} {v}" for k, v in sorted(r.extraction_methods.items(), key=lambda kv: (-kv[1], kv[0]))) or "—"
        finish = ", ".join(f"{k} {v}" for k, v in sorted(r.finish_reasons.items(), key=lambda kv: (-kv[1], kv[0]))) or "—"
        rows.append([_run_label(r), methods, finish, num(r.prompt_tokens.mean if r.prompt_tokens else None),
                     num(r.completion_tokens.mean if r.completion_tokens else None),
                     num(r.latency_s.mean if r.latency_s else None, 3), num(r.latency_s.p95 if r.latency_s else None, 3),
                     num(r.tokens_per_s)])
    return table(["run", "extraction", "finish", "prompt tok", "completion tok", "latency s", "p95 s", "tok/s"], rows)


def render_markdown(inp: ReportInputs) -> str:
    """The whole report as Markdown."""
    a = inp.analysis
    head = [f"# Analysis `{a.name}`", ""]
    head.append(f"{len(a.runs)} score output(s)" + (f" of category `{a.category}`" if a.category else "") +
                f"; {level_text(a.level)} intervals; bootstrap {a.bootstrap} replicates over problems, seed {a.seed}. "
                "Pass rate counts a problem as passed when its first sample passed.")
    head.append("")
    sections: list[tuple[str, Callable[[], str]]] = []
    if a.issues:
        sections.append(("Input issues", lambda: "\n".join(f"- **{i.kind}**: {i.message}" for i in a.issues) + "\n"))
    sections += [
        ("Model × dataset", lambda: matrix_heading(a.matrix) + "\n" + matrix_markdown(a.matrix) + (
            "\nMissing: " + "; ".join(a.matrix.missing) + "\n" if a.matrix.missing else "")),
        ("Runs", lambda: _runs_section(a.runs, a.level)),
        ("Metrics by task type", lambda: _metrics_section(a)),
        ("Best configuration per model", lambda: _best_section(inp.best)),
        ("Spread across seeds", lambda: _seeds_section(inp.seeds, a.level)),
    ]
    if "task_type" in inp.seeds and (inp.seeds["task_type"].fillna("code") != "code").any():
        sections.append(("Reasoning suites: metric over seeds, response length, truncation",
                         lambda: _reasoning_section(inp.seeds, a.level)))
        if inp.breakdowns is not None:
            sections.append(("By MATH level and subject", lambda: _by_level_and_subject(inp.breakdowns)))
    sections += [
        ("Paired comparisons", lambda: _paired_section(a)),
        ("Difficulty", lambda: _difficulty_section(a.runs)),
        ("Problems every run fails or passes", lambda: _problems_section(a)),
        ("Verdicts", lambda: _verdicts_section(a.runs)),
        ("Most common failures", lambda: _failures_section(inp.failures)),
        ("Generation", lambda: _generation_section(a.runs)),
    ]
    if inp.charts:
        sections.append(("Charts", lambda: "\n".join(f"![{CHARTS.get(c, c)}](charts/{c})\n" for c in inp.charts)))
    body = []
    for title, make in sections:
        body += [f"## {title}", "", make().rstrip("\n"), ""]
    return "\n".join(head + body)


def failure_table(results: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The most common (dataset, verdict, exception type) failures with links to example samples."""
    failed = results.loc[~results["passed"].astype(bool), ["run", "verdict", "exception_type", "line", "sample_line"]]
    if failed.empty:
        return pd.DataFrame(columns=["dataset", "verdict", "exception_type", "count", "share", "examples"])
    failed = failed.merge(runs[["run", "dataset", "run_ref", "generate_ref"]], on="run")
    # Plain strings, so that ties sort alphabetically (categoricals sort by first appearance).
    failed["verdict"] = failed["verdict"].astype(str)
    failed["exception_type"] = failed["exception_type"].astype(object).where(failed["exception_type"].notna(), "").astype(str)
    keys = ["dataset", "verdict", "exception_type"]
    counts = failed.groupby(keys).size().rename("count").reset_index()
    counts["share"] = counts["count"] / counts.groupby("dataset")["count"].transform("sum")
    counts = counts.sort_values(["count", "dataset", "verdict", "exception_type"], ascending=[False, True, True, True]).head(TOP_FAILURES)
    examples = failed.merge(counts[keys], on=keys).groupby(keys, sort=False).head(EXAMPLES)
    links: dict[tuple[str, str, str], list[str]] = {}
    for row in examples.itertuples(index=False):
        if row.generate_ref and not pd.isna(row.sample_line):
            text = link("sample", str(row.generate_ref), SAMPLES, int(row.sample_line))
        else:
            text = link("result", str(row.run_ref), RESULTS, int(row.line))
        links.setdefault((row.dataset, row.verdict, row.exception_type), []).append(text)
    counts["examples"] = [" ".join(links.get((d, v, e), [])) for d, v, e in counts[keys].itertuples(index=False)]
    counts["exception_type"] = counts["exception_type"].replace("", None)
    return counts.reset_index(drop=True)


# -- HTML ---------------------------------------------------------------------------------------

_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\(([^)]+)\)"), "img"),
    (re.compile(r"\[([^\]]*)\]\(([^)]+)\)"), "a"),
]


def _inline(text: str, images: dict[str, bytes]) -> str:
    out = html.escape(text, quote=False)

    def img(m: re.Match[str]) -> str:
        data = images.get(m.group(2))
        src = f"data:image/png;base64,{base64.b64encode(data).decode()}" if data is not None else m.group(2)
        return f'<img alt="{m.group(1)}" src="{src}">'

    out = _INLINE[0][0].sub(img, out)
    out = _INLINE[1][0].sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"(?<![\w*])_([^_]+)_(?![\w*])", r"<em>\1</em>", out)
    return out


def render_html(markdown: str, images: dict[str, bytes]) -> str:
    """A self-contained HTML page of the report (charts embedded as data URIs).

    Covers exactly the Markdown this module writes: headings, tables, lists, paragraphs, links,
    images, bold, code and emphasis.
    """
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip(), images)}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", lines[i].strip())[1:-1]])
                i += 1
            head, data = rows[0], rows[2:]
            body.append("<table><thead><tr>" + "".join(f"<th>{_inline(c, images)}</th>" for c in head) + "</tr></thead><tbody>")
            body += ["<tr>" + "".join(f"<td>{_inline(c, images)}</td>" for c in r) + "</tr>" for r in data]
            body.append("</tbody></table>")
            continue
        elif line.startswith("- "):
            body.append("<ul>")
            while i < len(lines) and lines[i].startswith("- "):
                body.append(f"<li>{_inline(lines[i][2:], images)}</li>")
                i += 1
            body.append("</ul>")
            continue
        elif line.strip():
            body.append(f"<p>{_inline(line, images)}</p>")
        i += 1
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}"
             "th{background:#f4f4f4}img{max-width:100%}code{background:#f4f4f4}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>coderig analysis</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
