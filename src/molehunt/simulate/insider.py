"""The insider scenario base class and the building blocks (USB copy, mail, upload) it offers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import numpy as np

from molehunt.simulate.activity import attachment_text
from molehunt.simulate.behaviour import DayPlan, Rows
from molehunt.simulate.habits import CONTENT_POOL, URLS_PER_DOMAIN, Habits
from molehunt.simulate.institute import Institute
from molehunt.simulate.printing import PrintHabits, spooler_name
from molehunt.simulate.vocabulary import COUNTRIES, FILE_HEADERS, TRANSIT_COUNTRIES

HOUR = 3600
HrEvent = tuple[int, str, int, str]  # (user, kind, day offset, detail)
Trip = tuple[int, int, int, str, str]  # (user, depart day, return day, countries, declared)


class Scenario:
    """Base insider generator: picks a person and a window, then adds tagged events day by day.

    Args:
        number: Insider number (the tag on its events).
        user: The person who acts.
        inst: The institute (tenure of the insider is adjusted by ``plan``).
        habits: Everybody's habits.
        days: Number of simulated days.
        rng: This insider's own generator.
    """

    name: ClassVar[str] = ""
    min_days: ClassVar[int] = 28
    leaves: ClassVar[bool] = False

    def __init__(
        self,
        number: int,
        user: int,
        inst: Institute,
        habits: Habits,
        days: int,
        rng: np.random.Generator,
    ) -> None:
        self.number, self.user, self.inst, self.habits = number, user, inst, habits
        self.days, self.rng = days, rng
        self.first, self.last = days // 2, days - 2
        # Set by the engine: print habits, and a generator of their own for print draws (so
        # the scenario's other draws are those of a simulation without printing).
        self.printing: PrintHabits | None = None
        self.print_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([number])))
        self.hr: list[HrEvent] = []
        self.trips: list[Trip] = []
        self.victim = -1

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        """People this scenario may be planted on."""
        return np.ones(inst.size, dtype=bool)

    def plan(self) -> None:
        """Choose the window and context; called once before the days are generated."""
        length = int(min(self.days * 0.4, int(self.rng.integers(14, 40))))
        self.last = int(self.rng.integers(self.days // 2 + length // 2, self.days - 3))
        self.first = max(7, self.last - length)
        if self.leaves:
            self.leave(self.last + int(self.rng.integers(1, 6)))

    def leave(self, last_day: int, notice_before: int = 0) -> None:
        """Make the insider resign: notice, last working day, then gone."""
        last_day = min(last_day, self.days - 1)
        notice = last_day - (notice_before or int(self.rng.integers(3, 15)))
        self.hr.append((self.user, "resignation_notice", notice, "resigned"))
        self.hr.append((self.user, "last_working_day", last_day, ""))
        self.inst.leave_day[self.user] = last_day + 1
        self.inst.leave_kind[self.user] = "insider"

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        """Add this insider's events of ``day`` to ``batch`` (tagged with ``number``)."""

    # Building blocks shared by the scenarios -------------------------------------------------

    def when(self, plan: DayPlan, after_hours: bool) -> tuple[int, bool]:
        """A moment to act today; True if the insider must open a session of their own."""
        window = plan.window_of(self.user)
        if window is None or after_hours:
            return int(self.rng.uniform(19.5, 23.0) * HOUR), True
        start, end = window
        return int(self.rng.uniform(start + 600, max(start + 900, end - 1800))), False

    @contextmanager
    def unlabelled(self) -> Iterator[None]:
        """Write the events made inside as ordinary activity, outside the answer key.

        CERT labels the act, not the run-up before it (the first after-hours evenings with a
        drive); the simulator's answer key does the same.
        """
        number, self.number = self.number, -1
        try:
            yield
        finally:
            self.number = number

    def session(self, batch: dict[str, Rows], t: int, pc: int, end: int, user: int = -1) -> None:
        """A logon at ``t`` and a logoff at ``end`` on ``pc``."""
        who = self.user if user < 0 else user
        batch["logon"].add(t, who, pc, self.number, activity="Logon")
        batch["logon"].add(end, who, pc, self.number, activity="Logoff")

    def usb_copy(self, batch: dict[str, Rows], t: int, pc: int, docs: list[int]) -> int:
        """Connect a drive, copy ``docs`` onto it, disconnect; returns the time it ends."""
        tree = self.habits.device_tree[self.user]
        batch["device"].add(t, self.user, pc, self.number, tree=tree, activity="Connect")
        for d in docs:
            t += int(self.rng.integers(15, 240))
            batch["file"].add(
                t,
                self.user,
                pc,
                self.number,
                filename=self.inst.documents.paths[d],
                activity="File Copy",
                to_removable="True",
                from_removable="False",
                content=self.content(d),
            )
        t += int(self.rng.integers(30, 600))
        batch["device"].add(t, self.user, pc, self.number, tree="", activity="Disconnect")
        return t

    def print_docs(
        self, batch: dict[str, Rows], t: int, pc: int, docs: list[int], pages: tuple[int, int]
    ) -> int:
        """Print ``docs`` (``pages`` = low, high pages per document) on the usual printer.

        Returns the time of the last job. Only ``print_rng`` is drawn from.
        """
        if self.printing is None:
            return t
        printer = self.printing.printers[int(self.printing.printer[self.user])]
        for d in docs:
            t += int(self.print_rng.integers(20, 240))
            batch["print"].add(
                t,
                self.user,
                pc,
                self.number,
                printer=printer,
                document=spooler_name(self.inst, d, bool(self.print_rng.random() < 0.5)),
                pages=int(self.print_rng.integers(pages[0], pages[1] + 1)),
            )
        return t

    def open_files(self, batch: dict[str, Rows], t: int, pc: int, docs: list[int]) -> int:
        """Open local documents (no copy); returns the time of the last open."""
        for d in docs:
            t += int(self.rng.integers(20, 400))
            batch["file"].add(
                t,
                self.user,
                pc,
                self.number,
                filename=self.inst.documents.paths[d],
                activity="File Open",
                to_removable="False",
                from_removable="False",
                content=self.content(d),
            )
        return t

    def mail(
        self,
        batch: dict[str, Rows],
        t: int,
        pc: int,
        to: str,
        docs: list[int],
        sender: str = "",
        user: int = -1,
    ) -> None:
        """Send one email with ``docs`` attached."""
        size = int(self.rng.lognormal(10.1, 0.5)) + int(self.habits.doc_size[docs].sum())
        batch["email"].add(
            t,
            self.user if user < 0 else user,
            pc,
            self.number,
            to=to,
            cc="",
            bcc="",
            sender=sender or self.inst.emails[self.user],
            activity="Send",
            size=size,
            attachments=attachment_text(self.inst, self.habits, docs),
            content=self.habits.contents[int(self.rng.integers(0, CONTENT_POOL))],
        )

    def web(
        self,
        batch: dict[str, Rows],
        t: int,
        pc: int,
        domain: str,
        activity: str = "WWW Visit",
        doc: int = -1,
    ) -> None:
        """Visit (or upload ``doc`` to) ``domain``."""
        if doc >= 0:
            url = (
                f"https://{domain}/home/{self.inst.user_ids[self.user].lower()}.aspx/"
                + (self.inst.documents.names[doc])
            )
            content = self.content(doc)
        else:
            index = self.habits.domains.index(domain) * URLS_PER_DOMAIN
            url = self.habits.urls[index + int(self.rng.integers(0, URLS_PER_DOMAIN))]
            content = self.habits.contents[int(self.rng.integers(0, CONTENT_POOL))]
        batch["http"].add(
            t, self.user, pc, self.number, url=url, activity=activity, content=content
        )

    def content(self, doc: int) -> str:
        """File content: header of the document's type plus keywords."""
        header = FILE_HEADERS[self.inst.documents.extensions[doc]]
        return header + " " + self.habits.contents[int(self.rng.integers(0, CONTENT_POOL))]

    def classified(self, own: bool, k: int, rng: np.random.Generator | None = None) -> list[int]:
        """``k`` SECRET or TOP SECRET documents from the insider's projects (or from others').

        ``rng`` defaults to the scenario's own generator (``print_rng`` for printing).
        """
        docs = self.inst.documents
        mine = set(self.inst.projects[self.user])
        pick = [
            i
            for i in range(len(docs.paths))
            if docs.level[i] >= 2 and (int(docs.project[i]) in mine) == own
        ]
        if not pick:
            pick = [i for i in range(len(docs.paths)) if docs.level[i] >= 1] or [0]
        chooser = self.rng if rng is None else rng
        return [int(d) for d in chooser.choice(pick, min(k, len(pick)), replace=False)]

    def trip_after(self, start: int, count: int, declared: str) -> None:
        """Foreign trips in the months after ``start`` (through transit countries)."""
        day = start
        for _ in range(count):
            day += int(self.rng.integers(10, 60))
            back = day + int(self.rng.integers(2, 9))
            route = self.rng.choice(TRANSIT_COUNTRIES, int(self.rng.integers(1, 4)), replace=False)
            self.trips.append((self.user, day, back, ";".join(route.tolist()), declared))
            day = back


def random_countries(rng: np.random.Generator) -> str:
    """One to three ISO country codes."""
    return ";".join(rng.choice(COUNTRIES, int(rng.integers(1, 4)), replace=False).tolist())
