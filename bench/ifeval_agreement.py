"""Agreement of coderig's IFEval grader with the official checker, per instruction type, strict and loose.

    .venv/bin/python bench/ifeval_agreement.py [--per-prompt 2] [--workdir DIR] [--json FILE]

The official checker is lm-eval 0.4.13's ``lm_eval/tasks/ifeval`` (google-research's code), run in a
throwaway virtual environment under ``--workdir`` (default /tmp/coderig-ifeval-official) that this script
builds: ``pip download lm-eval==0.4.13 --no-deps`` (the wheel is only unpacked: its four IFEval modules are
loaded under empty ``lm_eval``/``lm_eval.tasks`` packages, so none of lm-eval's heavy imports run), plus
``langdetect``, ``nltk``, ``immutabledict`` and ``packaging`` at the versions coderig's own environment has.
Both sides read the same NLTK punkt_tab data (``NLTK_DATA`` = coderig's ``.venv/share/nltk_data``) and seed
langdetect with 0, so a difference is a difference in the rules. lm-eval is never a coderig dependency.

Responses: ``--per-prompt`` synthetic responses for each of the 541 IFEval prompts (built from the prompt's
own instruction arguments, each instruction complied with or not at random, with the noise the loose
variants exist for: a preamble line, a closing line, markdown bold), plus the hand-made cases of
``tests/unit/test_score_ifeval.py``. Prints a Markdown table (stdout) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata as md
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LM_EVAL = "lm-eval==0.4.13"
MODULES = ("instructions.py", "instructions_registry.py", "instructions_util.py", "utils.py")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Dr. Smith arrived at 5 p.m. on Monday, and everyone was glad.",
    "In the U.S.A. many people enjoy baseball, e.g. the fans of the Yankees.",
    "This is VERY important for the whole TEAM.",
    "We walked to the park; it was sunny and warm.",
    "Is this the right answer? Maybe it is!",
    "Prices rose by 3.5 percent in 2023, as expected.",
    "Mr. Brown's dog, a well-known terrier, barked loudly.",
    "NASA launched a new rocket last week.",
    "Honestly... I am not sure what to say.",
    "The results were clear: the plan worked.",
    'She said, "Let us go home."',
    "Our garden has roses, tulips and daisies.",
    "They finished the project two days early.",
]
FOREIGN = {
    "de": "Das ist ein sehr schöner Tag, und wir gehen heute zusammen mit den Kindern in den Park spazieren.",
    "fr": "C'est une très belle journée et nous allons nous promener ensemble dans le parc avec les enfants.",
    "es": "Es un día muy bonito y hoy vamos a pasear juntos por el parque con los niños.",
    "it": "È una giornata molto bella e oggi andiamo a passeggiare insieme nel parco con i bambini.",
    "pt": "Hoje é um dia muito bonito e vamos passear juntos no parque com as crianças.",
    "ru": "Сегодня очень хороший день, и мы идём гулять в парк вместе с детьми.",
    "hi": "आज बहुत अच्छा दिन है और हम बच्चों के साथ पार्क में घूमने जा रहे हैं।",
    "ko": "오늘은 정말 좋은 날이고 우리는 아이들과 함께 공원에 산책하러 갑니다.",
    "fi": "Tänään on todella kaunis päivä, ja menemme lasten kanssa kävelylle puistoon.",
    "vi": "Hôm nay là một ngày rất đẹp và chúng tôi sẽ đi dạo trong công viên cùng các con.",
    "sw": "Leo ni siku nzuri sana na tutaenda kutembea katika bustani pamoja na watoto.",
}


def _sentences(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(SENTENCES) for _ in range(max(n, 0))]


def synth_response(row: dict[str, Any], rng: random.Random) -> str:
    """A response to one IFEval prompt: each instruction complied with (p=0.65) or not, plus noise."""
    paragraphs = [" ".join(_sentences(rng, rng.randint(2, 4))) for _ in range(rng.randint(1, 3))]
    joiner = "\n\n"
    prefix: list[str] = []
    suffix: list[str] = []
    final: list[str] = []  # whole-text transforms, applied last
    for iid, kw in zip(row["instruction_id_list"], row["kwargs"], strict=True):
        ok = rng.random() < 0.65
        rel_at_least = kw.get("relation", kw.get("let_relation", kw.get("capital_relation"))) == "at least"
        if iid == "keywords:existence":
            words = kw["keywords"] if ok else kw["keywords"][:-1]
            paragraphs.append("I mention " + " and ".join(words) + ".")
        elif iid == "keywords:frequency":
            f = kw["frequency"]
            n = (f if rel_at_least else f - 1) if ok else (f - 1 if rel_at_least else f)
            paragraphs.append(" ".join([kw["keyword"]] * max(n, 0)) + ".")
        elif iid == "keywords:forbidden_words" and not ok:
            paragraphs.append(f"Here is the word {rng.choice(kw['forbidden_words'])}.")
        elif iid == "keywords:letter_frequency":
            n = kw["let_frequency"] if ok == rel_at_least else 0
            paragraphs.append(kw["letter"] * n + " done.")
        elif iid == "language:response_language" and ok and kw["language"] in FOREIGN:
            paragraphs = [FOREIGN[kw["language"]]] * rng.randint(1, 2)
        elif iid == "length_constraints:number_sentences":
            n = kw["num_sentences"]
            n = (n + rng.randint(0, 2) if rel_at_least else n - 1) if ok else (n - 1 if rel_at_least else n + 1)
            paragraphs = [" ".join(_sentences(rng, n))]
        elif iid == "length_constraints:number_paragraphs":
            n = kw["num_paragraphs"] + (0 if ok else rng.choice([-1, 1]))
            paragraphs = [" ".join(_sentences(rng, 2)) for _ in range(max(n, 1))]
            joiner = rng.choice(["\n\n***\n\n", "\n***\n", " *** "])
        elif iid == "length_constraints:number_words":
            words = " ".join(paragraphs).split()
            target = kw["num_words"] + (rng.randint(0, 5) if rel_at_least == ok else -rng.randint(1, 5))
            while len(words) < target:
                words += rng.choice(SENTENCES).split()
            paragraphs = [" ".join(words[:max(target, 1)])]
        elif iid == "length_constraints:nth_paragraph_first_word":
            n = kw["num_paragraphs"] + (0 if ok or rng.random() < 0.5 else 1)
            paragraphs = [" ".join(_sentences(rng, 2)) for _ in range(n)]
            first = kw["first_word"] if ok or rng.random() < 0.5 else "however"
            i = kw["nth_paragraph"] - 1
            if i < len(paragraphs):
                paragraphs[i] = rng.choice(["", '"', "'"]) + first.capitalize() + rng.choice([",", "", "."]) + " " + paragraphs[i]
            joiner = "\n\n"
        elif iid == "detectable_content:number_placeholders":
            paragraphs.append(" ".join(f"[field {i}]" for i in range(kw["num_placeholders"] - (0 if ok else 1))))
        elif iid == "detectable_content:postscript" and ok:
            suffix.append(f"{kw['postscript_marker']} Thank you for reading.")
        elif iid == "detectable_format:number_bullet_lists":
            n = kw["num_bullets"] + (0 if ok else 1)
            paragraphs.append("\n".join(f"{rng.choice(['*', '-', '* ', '  *'])} point {i}" for i in range(n)))
        elif iid == "detectable_format:constrained_response":
            paragraphs = [rng.choice(["My answer is yes.", "My answer is maybe."]) if ok else "Yes, I think so."]
        elif iid == "detectable_format:number_highlighted_sections":
            n = kw["num_highlights"] - (0 if ok else 1)
            paragraphs.append(" ".join(rng.choice(["*part {}*", "**part {}**"]).format(i) for i in range(n)))
        elif iid == "detectable_format:multiple_sections":
            n = kw["num_sections"] - (0 if ok else 1)
            paragraphs = [f"{kw['section_spliter']} {i + 1}\n" + " ".join(_sentences(rng, 2)) for i in range(max(n, 1))]
        elif iid == "detectable_format:json_format" and ok:
            final.append("json")
        elif iid == "detectable_format:title" and ok:
            prefix.append("<<" + rng.choice(["A Title", "The Poem of Joy", "report"]) + ">>")
        elif iid == "combination:two_responses":
            other = " ".join(_sentences(rng, 2)) if ok else None
            final.append("two:" + (other or ""))
        elif iid == "combination:repeat_prompt" and ok:
            prefix.insert(0, kw["prompt_to_repeat"])
        elif iid == "startend:end_checker" and ok:
            final.append("end:" + kw["end_phrase"])
        elif iid == "change_case:capital_word_frequency":
            f = kw["capital_frequency"]
            n = (f if rel_at_least else max(f - 3, 0)) if ok else (max(f - 2, 0) if rel_at_least else f + 1)
            paragraphs.append(" ".join(rng.choice(["BIG", "LOUD", "NOW", "U.S.A.", "WELL-KNOWN"]) for _ in range(n)) + ".")
        elif iid == "change_case:english_capital" and ok:
            final.append("upper")
        elif iid == "change_case:english_lowercase" and ok:
            final.append("lower")
        elif iid == "punctuation:no_comma" and ok:
            final.append("nocomma")
        elif iid == "startend:quotation" and ok:
            final.append("quote")
    if rng.random() < 0.3:
        prefix.insert(0, rng.choice(["Sure! Here is my response:", "**Answer**", "Of course, here it is."]))
    if rng.random() < 0.2:
        suffix.append(rng.choice(["Let me know if you need anything else.", "*Hope this helps!*"]))
    if rng.random() < 0.2 and paragraphs:
        paragraphs[0] = "**" + paragraphs[0] + "**"
    text = "\n".join([*prefix, joiner.join(paragraphs), *suffix])
    for op in final:
        if op == "json":
            text = json.dumps({"response": text})
            text = rng.choice(["{}", "```json\n{}\n```", "```\n{}\n```"]).format(text)
        elif op.startswith("two:"):
            text = text + "\n******\n" + (op[4:] or text)
        elif op.startswith("end:"):
            text = text.rstrip() + " " + op[4:]
        elif op == "upper":
            text = text.upper()
        elif op == "lower":
            text = text.lower()
        elif op == "nocomma":
            text = text.replace(",", "")
        elif op == "quote":
            text = f'"{text}"'
    return text


def build_items(per_prompt: int) -> list[dict[str, Any]]:
    """Synthetic responses for every IFEval prompt, then the unit tests' hand-made cases."""
    data = Path(os.environ.get("CODERIG_DATA_DIR", ROOT.parent / "shared" / "data")) / "ifeval" / "input_data.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    items = []
    for row in rows:
        for k in range(per_prompt):
            rng = random.Random(f"{row['key']}-{k}")
            items.append({"source": f"ifeval/{row['key']}#{k}", "prompt": row["prompt"], "ids": row["instruction_id_list"],
                          "kwargs": row["kwargs"], "response": synth_response(row, rng)})
    from tests.unit.test_score_ifeval import CASES

    for i, (iid, kwargs, response, _, _) in enumerate(CASES):
        items.append({"source": f"unit-case-{i}", "prompt": "", "ids": [iid], "kwargs": [kwargs], "response": response})
    return items


DRIVER = r'''
import json, random, sys
import langdetect
langdetect.DetectorFactory.seed = 0
from lm_eval.tasks.ifeval import utils
items = json.load(open(sys.argv[1]))
out = []
for n, it in enumerate(items):
    random.seed(n)  # upstream draws a random value for an invalid argument: make the draw repeatable
    inp = utils.InputExample(key=n, instruction_id_list=it["ids"], prompt=it["prompt"], kwargs=it["kwargs"])
    try:
        s = utils.test_instruction_following_strict(inp, it["response"]).follow_instruction_list
        l = utils.test_instruction_following_loose(inp, it["response"]).follow_instruction_list
        out.append({"strict": s, "loose": l})
    except Exception as e:
        out.append({"error": f"{type(e).__name__}: {e}"})
json.dump(out, open(sys.argv[2], "w"))
'''


def official_env(workdir: Path) -> tuple[Path, Path]:
    """(python, package dir) of the throwaway environment with lm-eval's IFEval modules."""
    venv, pkg = workdir / "venv", workdir / "pkg"
    py = venv / "bin" / "python"
    if not (pkg / "lm_eval" / "tasks" / "ifeval" / "utils.py").is_file() or not py.is_file():
        print(f"building the official checker's environment in {workdir}", file=sys.stderr)
        clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of coderig in there
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean)
        pins = [f"{name}=={md.version(name)}" for name in ("langdetect", "nltk")] + ["immutabledict", "packaging"]
        pip = [str(py), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", *pins], check=True, env=clean)
        wheels = workdir / "wheels"
        subprocess.run([*pip, "download", LM_EVAL, "--no-deps", "-d", str(wheels)], check=True, env=clean)
        [wheel] = glob.glob(str(wheels / "lm_eval-*.whl"))
        target = pkg / "lm_eval" / "tasks" / "ifeval"
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as z:
            for name in MODULES:
                (target / name).write_bytes(z.read(f"lm_eval/tasks/ifeval/{name}"))
        # empty packages: lm-eval's own __init__ files import torch, transformers, datasets...
        for d in (pkg / "lm_eval", pkg / "lm_eval" / "tasks", target):
            (d / "__init__.py").write_text("")
    return py, pkg


def run_official(items: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    py, pkg = official_env(workdir)
    src, dst, driver = workdir / "items.json", workdir / "official.json", workdir / "driver.py"
    src.write_text(json.dumps(items))
    driver.write_text(DRIVER)
    nltk_data = Path(sys.prefix) / "share" / "nltk_data"
    env = {**os.environ, "PYTHONPATH": str(pkg), "NLTK_DATA": str(nltk_data)}
    subprocess.run([str(py), str(driver), str(src), str(dst)], check=True, env=env)
    out: list[dict[str, Any]] = json.loads(dst.read_text())
    return out


def run_coderig(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from coderig_score import ifeval

    out = []
    for it in items:
        verdict = ifeval.grade_response(it["ids"], it["kwargs"], it["response"])
        out.append({"strict": [v.strict for v in verdict.instructions], "loose": [v.loose for v in verdict.instructions]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-prompt", type=int, default=2, help="synthetic responses per IFEval prompt")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/coderig-ifeval-official"))
    ap.add_argument("--json", type=Path, help="write every disagreement here")
    args = ap.parse_args()
    items = build_items(args.per_prompt)
    t0 = time.perf_counter()
    official = run_official(items, args.workdir)
    t1 = time.perf_counter()
    mine = run_coderig(items)
    t2 = time.perf_counter()
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    diffs = []
    for it, o, m in zip(items, official, mine, strict=True):
        if "error" in o:
            diffs.append({**it, "official_error": o["error"]})
            continue
        for i, iid in enumerate(it["ids"]):
            c = per[iid]
            c["n"] += 1
            c["strict_true"] += m["strict"][i]
            c["loose_true"] += m["loose"][i]
            for mode in ("strict", "loose"):
                if o[mode][i] == m[mode][i]:
                    c[f"{mode}_agree"] += 1
                else:
                    diffs.append({"source": it["source"], "instruction": iid, "kwargs": it["kwargs"][i], "mode": mode,
                                  "official": o[mode][i], "coderig": m[mode][i], "response": it["response"]})
    total = {k: sum(c[k] for c in per.values()) for k in ("n", "strict_agree", "loose_agree")}
    print(f"{len(items)} responses, {total['n']} instruction verdicts; official checker {t1 - t0:.1f} s "
          f"(incl. environment), coderig {t2 - t1:.1f} s", file=sys.stderr)
    print("| instruction type | checks | followed (strict / loose, coderig) | strict agreement | loose agreement |")
    print("|---|---|---|---|---|")
    for iid in sorted(per):
        c = per[iid]
        n = c["n"]
        print(f"| `{iid}` | {n} | {c['strict_true']} / {c['loose_true']} | {c['strict_agree']}/{n} | {c['loose_agree']}/{n} |")
    print(f"| **all** | {total['n']} | | {total['strict_agree']}/{total['n']} ({100 * total['strict_agree'] / total['n']:.2f}%) "
          f"| {total['loose_agree']}/{total['n']} ({100 * total['loose_agree'] / total['n']:.2f}%) |")
    for d in diffs[:20]:
        print(f"difference: {json.dumps(d)[:400]}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(diffs, indent=1))


if __name__ == "__main__":
    main()
