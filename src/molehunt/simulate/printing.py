"""Printing: everybody's print habits and the day's print jobs (`print.csv`, channel `print`).

Print jobs are drawn from their own branch of the seed hierarchy (habits and days), so adding
the print channel left every other file of a seed byte-identical. A job is one row: the client
PC, the printer (one per department, plus a few shared ones), the document name as a spooler
shows it (a registry document of the person's own pool, sometimes with an application prefix
such as "Microsoft Word - ", or an ordinary unregistered name) and the pages (pages x copies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from molehunt.simulate.behaviour import DayPlan, Rows, counts, doc_choice, sample_times
from molehunt.simulate.habits import Habits
from molehunt.simulate.institute import Institute

SHARED_PRINTERS = ("PRN-LOBBY-1", "PRN-LIBRARY-1", "PRN-COPYROOM-1")
# Unregistered things people print (web pages, mail, forms).
EVERYDAY_DOCUMENTS = (
    "Microsoft Outlook - Memo Style",
    "Document1",
    "travel expense form.pdf",
    "boarding pass.pdf",
    "Meeting agenda.docx",
    "timesheet.xlsx",
    "canteen menu.pdf",
    "https://intranet/news",
    "Test Page",
    "invoice.pdf",
)
APP_PREFIX = {
    "doc": "Microsoft Word - ",
    "docx": "Microsoft Word - ",
    "xls": "Microsoft Excel - ",
    "xlsx": "Microsoft Excel - ",
    "pdf": "Adobe Acrobat Reader DC - ",
    "ppt": "Microsoft PowerPoint - ",
    "pptx": "Microsoft PowerPoint - ",
}


@dataclass(frozen=True)
class PrintHabits:
    """Per-person print behaviour (arrays indexed by user) and the printer names.

    Args:
        rate: Print jobs on a full working day (Poisson mean).
        pages_median: Median pages of a job.
        printer: Index into ``printers`` of the person's usual printer.
        printers: Printer queue names.
    """

    rate: np.ndarray
    pages_median: np.ndarray
    printer: np.ndarray
    printers: tuple[str, ...]


def build_print_habits(rng: np.random.Generator, inst: Institute) -> PrintHabits:
    """Draw everybody's print habits: most print a little, some a lot, a few never."""
    n = inst.size
    departments = sorted(set(inst.departments))
    printers = tuple(
        f"PRN-{re.sub('[^A-Z]+', '', d.upper())[:10] or 'DEPT'}-{i + 1}"
        for i, d in enumerate(departments)
    )
    printers += SHARED_PRINTERS
    by_department = {d: i for i, d in enumerate(departments)}
    own = np.array([by_department[d] for d in inst.departments], dtype=np.int64)
    shared = len(departments) + rng.integers(0, len(SHARED_PRINTERS), n)
    printer = np.where(rng.random(n) < 0.1, shared, own)
    never = rng.random(n) < 0.12
    rate = np.where(never, 0.0, rng.lognormal(np.log(1.2), 0.8, n))
    return PrintHabits(
        rate=rate,
        pages_median=rng.lognormal(np.log(3.0), 0.5, n),
        printer=printer,
        printers=printers,
    )


def spooler_name(inst: Institute, doc: int, prefixed: bool) -> str:
    """A registry document's name as a print spooler shows it."""
    name = str(inst.documents.names[doc])
    prefix = APP_PREFIX.get(name.rsplit(".", 1)[-1].lower(), "") if prefixed else ""
    return prefix + name


def print_rows(
    rng: np.random.Generator,
    inst: Institute,
    habits: Habits,
    printing: PrintHabits,
    plan: DayPlan,
) -> Rows:
    """The day's ordinary print jobs of everybody present."""
    rows = Rows("print")
    slots = counts(rng, plan, printing.rate, habits)
    t, pc, _ = sample_times(rng, inst, plan, slots)
    users = plan.users[slots]
    n = len(slots)
    registry = rng.random(n) < 0.7
    docs = doc_choice(rng, inst, users)
    prefixed = rng.random(n) < 0.5
    everyday = rng.integers(0, len(EVERYDAY_DOCUMENTS), n)
    pages = np.maximum(1, rng.lognormal(np.log(printing.pages_median[users]), 0.7)).astype(int)
    copies = np.where(rng.random(n) < 0.05, rng.integers(2, 5, n), 1)
    away = rng.random(n) < 0.05  # now and then another printer (a meeting room, a jam)
    printer = np.where(away, rng.integers(0, len(printing.printers), n), printing.printer[users])
    documents = [
        spooler_name(inst, int(d), bool(p)) if r else EVERYDAY_DOCUMENTS[int(e)]
        for d, p, r, e in zip(
            docs.tolist(), prefixed.tolist(), registry.tolist(), everyday.tolist(), strict=True
        )
    ]
    rows.extend(
        t,
        users,
        pc,
        printer=[printing.printers[int(p)] for p in printer.tolist()],
        document=documents,
        pages=(pages * copies).tolist(),
    )
    return rows
