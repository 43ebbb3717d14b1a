"""IFEval (instruction following): 541 prompts, each with 1-3 verifiable instructions.

Local file: ``<CODERIG_DATA_DIR>/ifeval/input_data.jsonl`` (google-research's ``input_data.jsonl``:
``key, prompt, instruction_id_list, kwargs``, kwargs holding only the keys each instruction uses); hub:
``google/IFEval`` (its only split is called ``train``; its kwargs carry every key, mostly null, and the
nulls are dropped here). Problems are labelled split ``test``: IFEval is an evaluation set, whatever the
hub calls its split. IFEval has no gold responses, so ``reference_solution`` is null (``--model reference``
has nothing to replay for it). One check per instruction (``i0``, ``i1``...), graded by coderig-score.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from coderig_schemas import InvalidInputError, Problem, TaskType
from coderig_schemas.tasks import instruction_check_id

from .loaders import _need, _problem
from .sources import HubSource, RawRecord, read_file, read_hub, resolve_local

STANDARD_FILE = "ifeval/input_data.jsonl"
HUB = HubSource("google/IFEval", None, "train")
SPLIT = "test"


def read(name: str, source: Path | None, split: str, env: Mapping[str, str] | None) -> tuple[list[RawRecord], str]:
    """Raw IFEval rows: the local file when there is one, else the hub."""
    path = resolve_local(name, source, STANDARD_FILE, env)
    if path is not None:
        return read_file(path), str(path)
    return read_hub(name, HUB), f"hub:{HUB.repo}"


def normalize(rec: RawRecord, split: str) -> Problem:
    """One IFEval row -> an instruction_following Problem (one hidden check per instruction)."""
    key = _need(rec, "key", int)
    prompt = _need(rec, "prompt")
    ids = _need(rec, "instruction_id_list", list)
    kwargs = _need(rec, "kwargs", list)
    if len(ids) != len(kwargs):
        raise InvalidInputError(f"{rec.where}: kwargs: {len(kwargs)} entries for {len(ids)} instructions",
                                hint="instruction_id_list and kwargs pair by position")
    if not all(isinstance(i, str) for i in ids) or not all(isinstance(k, dict) for k in kwargs):
        raise InvalidInputError(f"{rec.where}: instruction_id_list must hold strings and kwargs objects",
                                hint="is this the IFEval input_data.jsonl?")
    clean = [{k: v for k, v in kw.items() if v is not None} for kw in kwargs]
    tests = [{"test_id": instruction_check_id(i), "code": "", "visibility": "hidden", "expected_repr": iid,
              "input_repr": json.dumps(kw, sort_keys=True) if kw else None}
             for i, (iid, kw) in enumerate(zip(ids, clean, strict=True))]
    return _problem(
        rec, dataset="ifeval", split=SPLIT, problem_id=f"ifeval/{key}", prompt=prompt,
        task_type=TaskType.INSTRUCTION_FOLLOWING, tests=tests, reference_solution=None,
        grading={"kind": "instruction_following", "instruction_id_list": ids, "kwargs": clean},
        source={"key": key},
    )
