"""Shilling: bursts of new accounts pushing one item, found in the interaction log.

An account's creation time is taken to be its first interaction, and an account is "new" when
it has at most ``max_history`` interactions. For every item, the largest group of new accounts
that interacted with it and were created within ``window_seconds`` of each other is compared
with what chance would give: (new accounts created in that window) x (share of all users who
interacted with the item). A group of at least ``min_accounts`` whose Poisson tail probability
is below ``alpha`` is a shilling burst; its accounts and item are returned so that generation is
not steered by them, and the shilling check warns on items made for or from them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import poisson

from genrec.data.dataset import Dataset
from genrec.data.generated import GeneratedItem
from genrec.fidelity.base import Check, CheckContext, Finding
from genrec.fidelity.policy import ShillingSettings


@dataclass
class ShillingGroup:
    """New accounts created close together that all interacted with one item."""

    item: str
    users: list[str]
    start: int  # first and last account creation time in the group
    end: int
    expected: float  # accounts chance would give
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "item": self.item,
            "users": self.users,
            "start": self.start,
            "end": self.end,
            "expected": self.expected,
            "p_value": self.p_value,
        }


@dataclass
class ShillingReport:
    """Suspicious accounts and pushed items, with the bursts that implicate them."""

    users: frozenset[str] = frozenset()
    items: frozenset[str] = frozenset()
    groups: list[ShillingGroup] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {"users": sorted(self.users), "items": sorted(self.items), "groups": [g.to_dict() for g in self.groups]}


def detect_shilling(
    users: Sequence[Any],
    items: Sequence[Any],
    timestamps: Sequence[int] | np.ndarray,
    settings: ShillingSettings | None = None,
) -> ShillingReport:
    """Shilling bursts in an interaction log given as three parallel columns."""
    s = settings or ShillingSettings()
    if not len(users) == len(items) == len(timestamps):
        raise ValueError(f"users, items and timestamps differ in length: {len(users)}, {len(items)}, {len(timestamps)}")
    first: dict[str, int] = {}
    count: dict[str, int] = defaultdict(int)
    item_users: dict[str, set[str]] = defaultdict(set)
    for u, i, t in zip(users, items, timestamps):
        u, i, t = str(u), str(i), int(t)
        first[u] = min(first.get(u, t), t)
        count[u] += 1
        item_users[i].add(u)
    n_users = len(first)
    new = {u for u, c in count.items() if c <= s.max_history}
    created = sorted(first[u] for u in new)
    groups = []
    for item, its_users in item_users.items():
        fresh = sorted((first[u], u) for u in its_users if u in new)
        if len(fresh) < s.min_accounts:
            continue
        best = _densest_window([t for t, _ in fresh], s.window_seconds)
        lo, hi = best
        members = fresh[lo:hi]
        if len(members) < s.min_accounts:
            continue
        start, end = members[0][0], members[-1][0]
        arrivals = bisect_right(created, start + s.window_seconds) - bisect_left(created, start)
        share = len(its_users) / n_users
        expected = max(arrivals * share, 1e-12)
        p = float(poisson.sf(len(members) - 1, expected))
        if p < s.alpha:
            groups.append(ShillingGroup(item, sorted(u for _, u in members), start, end, expected, p))
    groups.sort(key=lambda g: g.p_value)
    return ShillingReport(frozenset(u for g in groups for u in g.users), frozenset(g.item for g in groups), groups)


def _densest_window(times: list[int], width: int) -> tuple[int, int]:
    """[lo, hi) indices of the sorted ``times`` window of ``width`` holding the most points."""
    best, lo, best_span = 0, 0, (0, 0)
    for hi in range(len(times)):
        while times[hi] - times[lo] > width:
            lo += 1
        if hi + 1 - lo > best:
            best, best_span = hi + 1 - lo, (lo, hi + 1)
    return best_span


def detect_shilling_in(dataset: Dataset, settings: ShillingSettings | None = None) -> ShillingReport:
    """Shilling bursts in a dataset's interaction log (external ids); needs real timestamps."""
    if not dataset.has_timestamps:
        raise ValueError(f"dataset {dataset.name!r} has no timestamps (only positions): shilling needs times")
    inter = dataset.interactions
    user_ids = np.asarray(dataset.users["user_id"].astype(str))[inter.user]
    item_ids = np.asarray(dataset.items["item_id"].astype(str))[inter.item]
    return detect_shilling(user_ids, item_ids, inter.timestamp, settings)


class ShillingCheck(Check):
    """Warns on items made for a suspicious account or edited from a pushed item."""

    name = "shilling"
    settings: ShillingSettings

    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Looks the requester and the source item up in the context's shilling results."""
        findings = []
        user = ctx.requester(item)
        if user is not None and str(user) in ctx.suspicious_users:
            findings.append(
                Finding(
                    "suspicious_user", f"made for account {user!r} of a shilling burst", "provenance", text=str(user)
                )
            )
        source = item.provenance.source_item_id
        if source is not None and str(source) in ctx.suspicious_items:
            findings.append(
                Finding(
                    "pushed_item",
                    f"edited from item {source!r} pushed by a shilling burst",
                    "provenance",
                    text=str(source),
                )
            )
        return findings, {}
