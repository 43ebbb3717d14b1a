"""Difficulty mixes: how many examples to take from each bucket, and which ones (seeded)."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

from coderig_schemas import Difficulty

T = TypeVar("T")

BUCKETS: tuple[Difficulty, ...] = (Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD)

#: The named mixes (FinetuneConfig.mix, --mix).
MixName = Literal["balanced", "easy_heavy", "medium_heavy", "hard_heavy", "all"]

#: Default easy / medium / hard ratios of each named mix. 'all' keeps every example, unknown difficulty included.
MIXES: dict[str, tuple[float, float, float] | None] = {
    "balanced": (1 / 3, 1 / 3, 1 / 3),
    "easy_heavy": (0.6, 0.25, 0.15),
    "medium_heavy": (0.2, 0.6, 0.2),
    "hard_heavy": (0.15, 0.25, 0.6),
    "all": None,
}
if tuple(MIXES) != get_args(MixName):  # one list of names: the typed one and the table must not drift
    raise RuntimeError(f"MIXES names {tuple(MIXES)} differ from MixName {get_args(MixName)}")
#: The mixes that have ratios (the ones --ratios may replace).
RATIO_MIXES: tuple[str, ...] = tuple(name for name, r in MIXES.items() if r is not None)


def describe_mixes() -> str:
    """One line naming each mix with its easy/medium/hard ratios (for help texts)."""
    def share(x: float) -> str:
        return f"{x:.2f}".rstrip("0").lstrip("0") or "0"

    parts = [f"{name} {'/'.join(share(x) for x in r)}" if r is not None else f"{name} keeps everything (unknown difficulty included)"
             for name, r in MIXES.items()]
    return "; ".join(parts) + "."


def parse_ratios(text: str) -> tuple[float, float, float]:
    """Parse 'e,m,h' (any non-negative weights, normalized to sum 1); raises ValueError."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError(f"{text!r}: give three weights 'easy,medium,hard', e.g. '0.5,0.3,0.2'")
    values = [float(p) for p in parts]
    if any(v < 0 or math.isnan(v) or math.isinf(v) for v in values) or sum(values) <= 0:
        raise ValueError(f"{text!r}: weights must be finite, non-negative and not all zero")
    total = sum(values)
    e, m, h = (v / total for v in values)
    return (e, m, h)


def apportion(size: int, ratios: Sequence[float]) -> list[int]:
    """Split size into integer counts proportional to ratios (largest remainder; ties go to the earlier bucket)."""
    raw = [size * r for r in ratios]
    counts = [math.floor(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: size - sum(counts)]:
        counts[i] += 1
    return counts


def largest_exact_size(available: Sequence[int], ratios: Sequence[float]) -> int:
    """The largest total whose apportioned counts all fit in what is available."""
    bound = min((a / r for a, r in zip(available, ratios, strict=True) if r > 0), default=0.0)
    size = math.floor(bound + 1e-9)
    while size > 0 and any(c > a for c, a in zip(apportion(size, ratios), available, strict=True)):
        size -= 1
    return size


@dataclass(frozen=True)
class BucketReport:
    """Target, availability and outcome of one difficulty bucket."""

    difficulty: str
    ratio: float | None
    available: int
    target: int
    taken: int

    @property
    def short(self) -> int:
        """How many examples the bucket lacked to meet its target."""
        return max(0, self.target - self.taken)


@dataclass(frozen=True)
class MixReport:
    """What a mix asked for and what it achieved."""

    mix: str
    size: int | None
    buckets: tuple[BucketReport, ...]
    unknown_dropped: int  # examples without difficulty, which a ratio mix cannot place

    @property
    def taken(self) -> int:
        """Examples selected."""
        return sum(b.taken for b in self.buckets)

    @property
    def limited_by(self) -> BucketReport | None:
        """Without a size: the scarcest bucket, when the exact ratios left examples of other buckets out."""
        if self.size is not None:
            return None
        weighted = [b for b in self.buckets if b.ratio]
        if not weighted or sum(b.available for b in weighted) == self.taken:
            return None
        return min(weighted, key=lambda b: b.available / (b.ratio or 1))

    @property
    def total_short(self) -> int:
        """How many examples the selection lacked to reach the requested size (0 without a size)."""
        return max(0, self.size - self.taken) if self.size is not None else 0

    @property
    def shortfalls(self) -> list[BucketReport]:
        """Buckets that did not meet their target."""
        return [b for b in self.buckets if b.short > 0]

    def achieved(self) -> dict[str, float]:
        """Share of each bucket in the selection (0 when nothing was selected)."""
        return {b.difficulty: (b.taken / self.taken if self.taken else 0.0) for b in self.buckets}

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form for the manifest's stats and the dataset card."""
        return {
            "mix": self.mix, "size": self.size, "taken": self.taken, "total_short": self.total_short,
            "unknown_dropped": self.unknown_dropped,
            "buckets": [
                {"difficulty": b.difficulty, "ratio": b.ratio, "available": b.available, "target": b.target, "taken": b.taken,
                 "short": b.short}
                for b in self.buckets
            ],
            "achieved": {k: round(v, 6) for k, v in self.achieved().items()},
        }


def spread_order(items: Sequence[T], group: Callable[[T], str], rng: random.Random) -> list[T]:
    """Items in a seeded order that visits every group before any group's second item.

    Taking the first k of this order spreads a bucket's quota over as many problems as possible,
    instead of filling it with many samples of a few easy-to-solve problems.
    """
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[group(item)].append(item)
    keys = sorted(groups)
    rng.shuffle(keys)
    for k in keys:
        rng.shuffle(groups[k])
    out: list[T] = []
    depth = 0
    while len(out) < len(items):
        out.extend(groups[k][depth] for k in keys if depth < len(groups[k]))
        depth += 1
    return out


def select_mix(
    items: Sequence[T], difficulty: Callable[[T], Difficulty | None], group: Callable[[T], str], *,
    mix: str, ratios: tuple[float, float, float] | None, size: int | None, seed: int,
) -> tuple[list[T], MixReport]:
    """Pick items to follow a difficulty mix; return them in a seeded shuffled order, with the report.

    ``ratios`` (easy, medium, hard) is the mix's target; None keeps the natural distribution
    (mix 'all'). Without ``size`` a ratio mix takes the largest set that meets its ratios exactly;
    with ``size``, each bucket's target is its share of size, and a bucket that has fewer items
    takes all it has and is reported short (no other bucket fills in, so the ratios stay honest).
    """
    rng = random.Random(seed)
    by_bucket: dict[Difficulty | None, list[T]] = defaultdict(list)
    for item in items:
        by_bucket[difficulty(item)].append(item)
    if ratios is None:
        chosen = spread_order(items, group, rng)[: len(items) if size is None else size]
        taken = Counter(difficulty(c) for c in chosen)
        reports = tuple(
            BucketReport(difficulty=str(d) if d else "unknown", ratio=None, available=len(by_bucket[d]), target=taken[d], taken=taken[d])
            for d in (*BUCKETS, None)
        )
        rng.shuffle(chosen)
        return chosen, MixReport(mix=mix, size=size, buckets=reports, unknown_dropped=0)
    available = [len(by_bucket[d]) for d in BUCKETS]
    total = largest_exact_size(available, ratios) if size is None else size
    targets = apportion(total, ratios)
    chosen = []
    reports_list = []
    for d, ratio, target in zip(BUCKETS, ratios, targets, strict=True):
        picked = spread_order(by_bucket[d], group, rng)[:target]
        chosen.extend(picked)
        reports_list.append(BucketReport(difficulty=str(d), ratio=ratio, available=len(by_bucket[d]), target=target, taken=len(picked)))
    rng.shuffle(chosen)
    return chosen, MixReport(mix=mix, size=size, buckets=tuple(reports_list), unknown_dropped=len(by_bucket[None]))
