"""BFCL (Berkeley Function Calling Leaderboard) single-turn AST categories: simple, multiple, parallel.

Each category is two JSON Lines files of gorilla's ``bfcl_eval/data/``: the questions (``id, question,
function``) and, under ``possible_answer/`` with the same name, the possible answers (``id,
ground_truth``), joined here by id. Local files: ``<CODERIG_DATA_DIR>/bfcl/BFCL_v4_<category>.json`` (the
question file; its answers are looked for in ``possible_answer/`` beside it, unless its rows already carry
``ground_truth``). Hub: the same two files of ``gorilla-llm/Berkeley-Function-Calling-Leaderboard``, through
``huggingface_hub``. The functions keep BFCL's Gorilla type names (``dict``, ``float``, ``tuple``, ``any``).

``reference_solution`` is the first possible answer rendered as Python call syntax (``f(a=1)``, or a list
``[f(a=1), f(a=2)]`` for several calls): every parameter takes its first accepted value, and a parameter
is left out when ``""`` (may be omitted) comes first and the schema does not require it; a dict value takes
the first accepted value of each of its keys the same way. It passes BFCL's checker, so ``--model
reference`` scores 100%.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coderig_schemas import InvalidInputError, Problem, TaskType
from coderig_schemas.tasks import call_check_id

from .loaders import Normalizer, _need, _problem
from .sources import DATA_DIR_ENV, RawRecord, _go_offline, env_var, hub_unreachable, read_file, resolve_local

HUB_REPO = "gorilla-llm/Berkeley-Function-Calling-Leaderboard"
SPLIT = "test"
#: dataset name -> (BFCL category, file name)
FILES: dict[str, tuple[str, str]] = {
    "bfcl_simple": ("simple", "BFCL_v4_simple_python.json"),
    "bfcl_multiple": ("multiple", "BFCL_v4_multiple.json"),
    "bfcl_parallel": ("parallel", "BFCL_v4_parallel.json"),
}


def read(name: str, source: Path | None, split: str, env: Mapping[str, str] | None) -> tuple[list[RawRecord], str]:
    """Question rows of a BFCL category, each with its ``ground_truth`` joined in."""
    _, file_name = FILES[name]
    path = resolve_local(name, source, f"bfcl/{file_name}", env)
    if path is not None:
        questions = read_file(path)
        if all("ground_truth" in r.row for r in questions):
            return questions, str(path)
        answers_path = path.parent / "possible_answer" / path.name
        return _join(questions, read_file(answers_path), str(answers_path)), str(path)
    q_file, a_file = _hub_file(name, file_name), _hub_file(name, f"possible_answer/{file_name}")
    return _join(read_file(q_file), read_file(a_file), str(a_file)), f"hub:{HUB_REPO}"


def _join(questions: list[RawRecord], answers: list[RawRecord], answers_where: str) -> list[RawRecord]:
    by_id: dict[str, Any] = {}
    for a in answers:
        by_id[str(a.row.get("id"))] = a.row.get("ground_truth")
    out = []
    for q in questions:
        qid = str(q.row.get("id"))
        if by_id.get(qid) is None:
            raise InvalidInputError(f"{answers_where}: no possible answer for {qid!r} ({q.where})",
                                    hint="the possible_answer file must be the one of the same BFCL release")
        out.append(RawRecord(q.where, {**q.row, "ground_truth": by_id[qid]}))
    return out


def _hub_file(name: str, filename: str) -> Path:
    unreachable = hub_unreachable()
    if unreachable:
        _go_offline()
    from huggingface_hub import hf_hub_download  # only when the hub is really needed

    try:
        return Path(hf_hub_download(HUB_REPO, filename, repo_type="dataset"))
    except Exception as e:  # the hub client raises many types
        reason = f"{unreachable} and it is not in the local cache" if unreachable else (str(e).splitlines() or [type(e).__name__])[0]
        raise InvalidInputError(
            f"cannot load dataset {name!r} ({filename}) from the hub {HUB_REPO}: {reason}",
            hint=f"pass --data-file FILE or set {env_var(name)}=FILE (a question file with possible_answer/ beside it), "
            f"or {DATA_DIR_ENV}=DIR holding bfcl/{FILES[name][1]} (offline machines have no hub access)",
        ) from None


def _first(options: list[Any]) -> Any:
    return next((o for o in options if o != ""), "")


def _reference_value(value: Any) -> Any:
    # A dict's possible value maps each key to ITS accepted values; a list of dicts holds such dicts.
    if isinstance(value, dict):
        return {k: _reference_value(_first(v)) for k, v in value.items() if isinstance(v, list) and v and v[0] != ""}
    if isinstance(value, list):
        return [_reference_value(v) if isinstance(v, dict) else v for v in value]
    return value


def reference_calls(ground_truth: list[dict[str, dict[str, list[Any]]]],
                    functions: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The first possible answer of each expected call, as (name, arguments)."""
    required = {f.get("name"): set((f.get("parameters") or {}).get("required") or []) for f in functions}
    calls = []
    for entry in ground_truth:
        (name, params), = entry.items()
        args = {p: _reference_value(_first(v)) for p, v in params.items()
                if not (v and v[0] == "" and p not in required.get(name, set())) and _first(v) != ""}
        calls.append((name, args))
    return calls


def render_calls(calls: list[tuple[str, dict[str, Any]]]) -> str:
    """Python call syntax: ``f(a=1)`` for one call, ``[f(a=1), g(b='x')]`` for several (BFCL's format)."""
    rendered = [f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")" for name, args in calls]
    return rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"


def _user_prompt(rec: RawRecord) -> str:
    turns = _need(rec, "question", list)
    if len(turns) != 1 or not isinstance(turns[0], list):
        raise InvalidInputError(f"{rec.where}: question: {len(turns)} turns; only single-turn BFCL is supported",
                                hint="use the simple, multiple or parallel files")
    texts = [m.get("content") for m in turns[0] if isinstance(m, dict) and m.get("role") == "user"]
    if len(texts) != 1 or not isinstance(texts[0], str):
        raise InvalidInputError(f"{rec.where}: question: expected one user message", hint="use the single-turn BFCL files")
    return texts[0]


def normalizer(name: str) -> Normalizer:
    """The normalizer of one BFCL dataset (its category is fixed by the registry name)."""
    category, file_name = FILES[name]

    def normalize(rec: RawRecord, split: str) -> Problem:
        """One BFCL question (with its ground truth) -> a function_calling Problem."""
        qid = _need(rec, "id")
        functions = _need(rec, "function", list)
        truth = _need(rec, "ground_truth", list)
        if not truth or not all(isinstance(t, dict) and len(t) == 1 for t in truth):
            raise InvalidInputError(f"{rec.where}: ground_truth: each entry must name exactly one function",
                                    hint="is this BFCL's possible_answer file?")
        names = {f.get("name") for f in functions if isinstance(f, dict)}
        for entry in truth:
            (fname,) = entry
            if fname not in names:
                raise InvalidInputError(f"{rec.where}: ground_truth: {fname!r} is not among the question's functions "
                                        f"{sorted(n for n in names if n)}", hint="use the v4 files (v3 simple_363 has this error)")
        tests = [{"test_id": call_check_id(i), "code": "", "visibility": "hidden",
                  "expected_repr": json.dumps(entry, sort_keys=True)} for i, entry in enumerate(truth)]
        return _problem(
            rec, dataset=name, split=SPLIT, problem_id=qid, prompt=_user_prompt(rec),
            task_type=TaskType.FUNCTION_CALLING, tests=tests,
            reference_solution=render_calls(reference_calls(truth, functions)),
            grading={"kind": "function_calling", "functions": functions, "possible_answers": truth, "category": category},
            source={"id": qid, "file": file_name},
        )

    return normalize
