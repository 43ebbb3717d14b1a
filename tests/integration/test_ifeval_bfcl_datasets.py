"""IFEval and BFCL datasets, the slow part: the leetcode_hard subset against the whole LeetCodeDataset load.

The loaders' Problems graded by the scorer's result builders: tests/unit/test_ifeval_bfcl_datasets.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coderig_generate.datasets import load_problems

pytestmark = [pytest.mark.data, pytest.mark.slow]


def env(shared_data: Path) -> dict[str, str]:
    return {"CODERIG_DATA_DIR": str(shared_data)}


def test_leetcode_hard_is_the_hard_subset_of_leetcode(shared_data: Path) -> None:
    hard = load_problems("leetcode_hard", env=env(shared_data))
    everything = load_problems("leetcode", env=env(shared_data))
    assert len(hard) == 79 and {p.dataset for p in hard} == {"leetcode_hard"}
    assert [p.problem_id for p in hard] == [p.problem_id for p in everything if p.difficulty is not None and p.difficulty.value == "hard"]
