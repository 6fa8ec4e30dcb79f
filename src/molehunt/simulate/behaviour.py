"""Normal daily behaviour: sessions, web, email, removable media and file activity for everybody."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from molehunt.simulate.habits import Habits
from molehunt.simulate.institute import Institute
from molehunt.simulate.vocabulary import FILE_HEADERS

DAY = 86_400
CHANNELS: tuple[str, ...] = ("logon", "device", "file", "email", "http", "print")
FIELDS: dict[str, tuple[str, ...]] = {
    "logon": ("activity",),
    "device": ("tree", "activity"),
    "file": ("filename", "activity", "to_removable", "from_removable", "content"),
    "email": ("to", "cc", "bcc", "sender", "activity", "size", "attachments", "content"),
    "http": ("url", "activity", "content"),
    "print": ("printer", "document", "pages"),
}


@dataclass
class Rows:
    """Column lists of one channel's events for one day (``tag`` = insider number or -1)."""

    channel: str
    t: list[int] = field(default_factory=list)
    user: list[int] = field(default_factory=list)
    pc: list[int] = field(default_factory=list)
    tag: list[int] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in FIELDS[self.channel]:
            self.values.setdefault(name, [])

    def extend(self, t: np.ndarray, user: np.ndarray, pc: np.ndarray, **values: list[Any]) -> None:
        """Append benign events given as arrays plus one list per channel field."""
        self.t.extend(np.clip(t, 0, DAY - 1).astype(np.int64).tolist())
        self.user.extend(user.tolist())
        self.pc.extend(pc.tolist())
        self.tag.extend([-1] * len(t))
        for name in FIELDS[self.channel]:
            self.values[name].extend(values[name])

    def add(self, t: int, user: int, pc: int, tag: int, **values: Any) -> None:
        """Append one event (used by the insider scenarios)."""
        self.t.append(min(max(int(t), 0), DAY - 1))
        self.user.append(user)
        self.pc.append(pc)
        self.tag.append(tag)
        for name in FIELDS[self.channel]:
            self.values[name].append(values[name])

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class DayPlan:
    """Who works today and when: one main window, an optional after-hours window and second PC."""

    day: int
    users: np.ndarray
    start: np.ndarray
    end: np.ndarray
    late_start: np.ndarray  # -1 when there is no after-hours session
    late_end: np.ndarray
    other_pc: np.ndarray  # -1 when no second machine is used
    other_start: np.ndarray
    other_end: np.ndarray

    def window_of(self, user: int) -> tuple[int, int] | None:
        """Main working window (seconds) of a person today, or None if absent."""
        where = np.flatnonzero(self.users == user)
        if len(where) == 0:
            return None
        return int(self.start[where[0]]), int(self.end[where[0]])


def plan_day(
    rng: np.random.Generator, inst: Institute, habits: Habits, day: int, is_workday: bool
) -> DayPlan:
    """Decide who is present and their session windows."""
    active = (inst.hire_day <= day) & (day < inst.leave_day) & ~habits.absent[:, day]
    if is_workday:
        present = active
    else:
        present = active & (rng.random(inst.size) < habits.weekend_p)
    users = np.flatnonzero(present)
    k = len(users)
    if is_workday:
        start = (habits.start[users] + rng.normal(0, 1, k) * habits.start_sd[users]) * 3600
        length = (habits.length[users] + rng.normal(0, 0.4, k)) * 3600
    else:
        start = rng.uniform(9, 14, k) * 3600
        length = rng.uniform(1, 4, k) * 3600
    end = np.minimum(start + length, DAY - 3600)
    late = is_workday & (rng.random(k) < habits.after_hours_p[users])
    late_start = np.where(late, rng.uniform(19.5, 22.5, k) * 3600, -1)
    late_end = np.where(late, late_start + rng.uniform(0.3, 1.4, k) * 3600, -1)
    second = rng.random(k) < np.maximum(0.04, habits.other_pc_p[users])
    shared = inst.shared_pcs[rng.integers(0, len(inst.shared_pcs), k)]
    someone = inst.own_pc[rng.integers(0, inst.size, k)]
    use_other = (rng.random(k) < habits.other_pc_p[users]) & (someone != inst.own_pc[users])
    other_pc = np.where(second, np.where(use_other, someone, shared), -1)
    other_start = start + rng.uniform(0.1, 0.8, k) * (end - start)
    other_end = np.minimum(other_start + rng.uniform(600, 4800, k), end - 60)
    return DayPlan(
        day,
        users,
        start.astype(np.int64),
        end.astype(np.int64),
        late_start.astype(np.int64),
        late_end.astype(np.int64),
        other_pc,
        other_start.astype(np.int64),
        other_end.astype(np.int64),
    )


def sample_times(
    rng: np.random.Generator, inst: Institute, plan: DayPlan, slots: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event times spread over each person's windows; returns (time, pc, end of that window)."""
    main = (plan.end - plan.start)[slots]
    late = np.where(plan.late_start[slots] >= 0, (plan.late_end - plan.late_start)[slots], 0)
    x = rng.random(len(slots)) * (main + late)
    in_main = x < main
    t = np.where(in_main, plan.start[slots] + x, plan.late_start[slots] + x - main)
    window_end = np.where(in_main, plan.end[slots], plan.late_end[slots])
    users = plan.users[slots]
    pc = inst.own_pc[users]
    on_other = (
        (plan.other_pc[slots] >= 0) & (t >= plan.other_start[slots]) & (t < plan.other_end[slots])
    )
    pc = np.where(on_other, plan.other_pc[slots], pc)
    window_end = np.where(on_other, plan.other_end[slots], window_end)
    return t.astype(np.int64), pc, window_end.astype(np.int64)


def counts(rng: np.random.Generator, plan: DayPlan, rate: np.ndarray, habits: Habits) -> np.ndarray:
    """Slot index per event: Poisson counts scaled by how long each person works today."""
    hours = (plan.end - plan.start + np.maximum(plan.late_end - plan.late_start, 0)) / 3600
    scale = hours / habits.length[plan.users]
    n = rng.poisson(rate[plan.users] * scale)
    return np.repeat(np.arange(len(plan.users)), n)


def logon_rows(rng: np.random.Generator, inst: Institute, habits: Habits, plan: DayPlan) -> Rows:
    """Logon/Logoff for each session, screen unlocks, and a few missing logoffs."""
    rows = Rows("logon")
    own = inst.own_pc[plan.users]
    k = len(plan.users)
    keep_off = rng.random(k) > 0.015
    late = plan.late_start >= 0
    other = plan.other_pc >= 0
    unlock = counts(rng, plan, habits.unlock_rate, habits)
    unlock_t, unlock_pc, _ = sample_times(rng, inst, plan, unlock)
    parts = [
        (plan.start, own, np.ones(k, bool), "Logon"),
        (plan.end, own, keep_off, "Logoff"),
        (plan.late_start, own, late, "Logon"),
        (plan.late_end, own, late & (rng.random(k) > 0.02), "Logoff"),
        (plan.other_start, plan.other_pc, other, "Logon"),
        (plan.other_end, plan.other_pc, other & (rng.random(k) > 0.03), "Logoff"),
    ]
    for t, pc, mask, activity in parts:
        rows.extend(t[mask], plan.users[mask], pc[mask], activity=[activity] * int(mask.sum()))
    rows.extend(unlock_t, plan.users[unlock], unlock_pc, activity=["Logon"] * len(unlock))
    return rows


def doc_choice(rng: np.random.Generator, inst: Institute, users: np.ndarray) -> np.ndarray:
    """A registry document each person normally works with."""
    start = inst.doc_pool_start[users]
    size = np.maximum(inst.doc_pool_len[users], 1)
    return np.asarray(inst.doc_pool[start + (rng.random(len(users)) * size).astype(np.int64)])


def file_content(habits: Habits, inst: Institute, docs: np.ndarray, pick: np.ndarray) -> list[str]:
    """Hex header of the file type followed by content keywords."""
    exts = inst.documents.extensions
    return [
        FILE_HEADERS[exts[d]] + " " + habits.contents[c]
        for d, c in zip(docs.tolist(), pick.tolist(), strict=True)
    ]
