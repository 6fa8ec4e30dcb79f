"""Postfix messages kept open from their qmgr `from=` line to their `removed` line.

A Postfix message is one event, but its recipients are on its delivery lines, which may come
hours after the message (a deferred delivery retried), with its qmgr `from=` line logged
again for each attempt. So the join is bounded by the messages in the queue, not by a
distance in lines: a message stays open (in memory: its row and the recipients seen so far)
from its first `from=` line until its `removed` line, and is stored with the chunk that holds
that line. A message still open at the end of the file is stored there with what is known.

Per key (host and queue id), in line order: a `from=` line opens a message unless one is
open (then it is a later attempt of the open one, counted as skipped: `RETRY_REASON`); a
`removed` line closes the open message; a delivery line adds its recipient to the open
message (none open: it is counted, not joined). Queue ids that Postfix reuses later are
new messages, since the first one was closed.

A resumed ingest reads the file before its resume point again with `replay` (nothing stored
or counted) to know the messages open there; those already stored at the end of an earlier
ingest of a file that has grown since are dropped (`forget_stored`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest.arrays import booleans, numbers, to_numpy
from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject
from molehunt.ingest.logs.fast import set_recipients, skip_counts

if TYPE_CHECKING:
    from molehunt.ingest.logs.common import LogPlan

RETRY_REASON = "qmgr from= line of a message already open (a later delivery attempt)"

StoredLines = Callable[[list[tuple[str, int, str]]], set[int]]
"""(event id, source line, time) of open messages -> the lines of those already stored."""


class OpenMessages:
    """The Postfix messages open at the current point of one file (see the module)."""

    def __init__(self) -> None:
        self.stored_lines: StoredLines | None = None
        self.plan: LogPlan | None = None  # the plan the file is split with (for `replay`)
        self.reset()

    def reset(self) -> None:
        """Forget every open message (a new read of the file starts)."""
        self._rows: pa.Table | None = None  # open messages' rows, in line order
        self._lines = np.empty(0, np.int64)  # their `_line`
        self._to_message: list[np.ndarray] = []  # recipients: their message's line,
        self._to_line: list[np.ndarray] = []  # their own line,
        self._to_value: list[pa.Array] = []  # and the address
        self.carried = 0  # messages opened before a resume point, stored by this read
        self.open_at_end = 0  # messages stored at the end of the file while still open

    @property
    def open_count(self) -> int:
        """How many messages are open."""
        return len(self._lines)

    def advance(
        self, table: pa.Table, joins: pa.Table, is_last: bool
    ) -> tuple[pa.Table, list[LineReject]]:
        """Take a chunk's message rows and joined lines; the messages to store now.

        Args:
            table: The chunk's message rows (event fields, `_line`, `_join` key).
            joins: The chunk's joined lines (`_line`, key, value: a recipient, or NULL for a
                `removed` line).
            is_last: The chunk ends the file: every message still open is stored too.

        Returns:
            (the rows of the messages closed by this chunk, with their recipients, in line
            order; the skips of later attempts' `from=` lines, counted per reason).
        """
        closed, retries = self._step(table, joins)
        skips = skip_counts(to_numpy(table.column(LINE_COLUMN)), retries, RETRY_REASON)
        if is_last:
            self.open_at_end = self.open_count - int(np.isin(self._lines, closed).sum())
        return self._take(closed, every=is_last, empty=table.slice(0, 0)), skips

    def replay(self, table: pa.Table, joins: pa.Table) -> None:
        """Take a chunk read again before a resume point: open and close, store nothing."""
        closed, _ = self._step(table, joins)
        self._take(closed, every=False, empty=table.slice(0, 0))

    def forget_stored(self) -> None:
        """After `replay`: drop the open messages already stored (by an earlier ingest that
        ended with them open at the end of the file, which has grown since); the others are
        carried into this read (`carried`)."""
        if self._rows is None or self.open_count == 0:
            return
        if self.stored_lines is not None:
            keys = zip(
                self._rows.column("event_id").to_pylist(),
                self._lines.tolist(),
                self._rows.column("time").to_pylist(),
                strict=True,
            )
            stored = self.stored_lines([(str(k), int(line), str(t)) for k, line, t in keys])
            if stored:
                done = np.isin(self._lines, np.array(sorted(stored), np.int64))
                self._take(self._lines[done], every=False, empty=self._rows.slice(0, 0))
        self.carried = self.open_count

    def _step(self, table: pa.Table, joins: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Open, attempt, deliver and close in line order; (lines of the messages closed,
        which rows of `table` are later attempts)."""
        row_lines = to_numpy(table.column(LINE_COLUMN))
        row_keys = table.column("_join").combine_chunks()
        join_lines = to_numpy(joins.column(LINE_COLUMN))
        join_keys = joins.column("key").combine_chunks()
        values = joins.column("value").combine_chunks()
        is_close = to_numpy(pc.is_null(values))
        # One hash pass codes the chunk's keys (NULL: no key); the open messages' keys are
        # probed against the chunk's distinct keys (hashing every open key into a table again
        # per chunk, or a Python dict of them, cost more than the rest of the join).
        encoded = pc.dictionary_encode(pa.concat_arrays([row_keys, join_keys]))
        distinct = len(encoded.dictionary)
        codes = to_numpy(pc.fill_null(encoded.indices, numbers([distinct], "int32")[0]))
        codes = codes.astype(np.int64)
        row_code, join_code = codes[: len(row_keys)], codes[len(row_keys) :]
        # A key's state before the chunk: the line of its open message, or -1.
        open_line = np.full(distinct + 1, -1, np.int64)  # the last slot: no key (NULL)
        if self._rows is not None and self.open_count:
            probe = pc.index_in(self._rows.column("_join"), encoded.dictionary)
            at = to_numpy(pc.fill_null(probe, numbers([distinct], "int32")[0]))
            hit = at < distinct
            open_line[at[hit]] = self._lines[hit]

        # The state events (opens, closes) of each key in line order.
        code = np.concatenate([row_code, join_code[is_close]])
        line = np.concatenate([row_lines, join_lines[is_close]])
        opens = np.concatenate([np.ones(len(row_code), bool), np.zeros(int(is_close.sum()), bool)])
        row = np.concatenate([np.arange(len(row_code)), np.full(int(is_close.sum()), -1)])
        order = np.lexsort((line, code))
        code, line, opens, row = code[order], line[order], opens[order], row[order]
        same = np.zeros(len(code), bool)
        same[1:] = code[1:] == code[:-1]
        before = np.zeros(len(code), bool)
        before[1:] = opens[:-1]
        was_open = np.where(same, before, open_line[code] >= 0)
        was_open &= code < distinct  # a row without a key opens and closes alone
        new = opens & ~was_open
        retry = opens & was_open
        closing = ~opens & was_open
        # Each event's message: the last new open of its key, else the key's open message.
        last = np.maximum.accumulate(np.where(new, np.arange(len(code)), -1))
        own = (last >= 0) & (code[np.maximum(last, 0)] == code)
        message = np.where(own, line[np.maximum(last, 0)], open_line[code])

        # Each delivery joins the message open at its line (if any).
        delivered = ~is_close
        d_code, d_line = join_code[delivered], join_lines[delivered]
        span = int(max(line.max(initial=0), d_line.max(initial=0))) + 1
        at = np.searchsorted(code * span + line, d_code * span + d_line, side="left") - 1
        safe = np.maximum(at, 0)
        if len(code):
            found = (at >= 0) & (code[safe] == d_code)
            d_open = np.where(found, opens[safe], open_line[d_code] >= 0)
            d_message = np.where(found, message[safe], open_line[d_code])
        else:  # no opens or closes in the chunk: the state before it holds throughout
            d_open, d_message = open_line[d_code] >= 0, open_line[d_code]
        joined = d_open & (d_message >= 0) & (d_code < distinct)
        if joined.any():
            self._to_message.append(d_message[joined])
            self._to_line.append(d_line[joined])
            self._to_value.append(values.filter(booleans(delivered)).filter(booleans(joined)))

        retries = np.zeros(len(row_code), bool)
        retries[row[retry]] = True
        kept = table.filter(booleans(~retries)) if retries.any() else table
        alone = row_code[~retries] == distinct  # no key: closed at once
        closed = np.concatenate([message[closing], row_lines[~retries][alone]])
        if kept.num_rows:
            kept = kept.select(self._rows.column_names) if self._rows is not None else kept
            self._rows = kept if self._rows is None else pa.concat_tables([self._rows, kept])
            if self._rows.column(0).num_chunks > 32:  # one piece per chunk read: merge them
                self._rows = self._rows.combine_chunks()
            self._lines = np.concatenate([self._lines, row_lines[~retries]])
        return closed, retries

    def _take(self, closed: np.ndarray, every: bool, empty: pa.Table) -> pa.Table:
        """Remove the messages at `closed` lines (all with `every`); their rows, recipients
        set, in line order (`empty` when there are none)."""
        if self._rows is None or self.open_count == 0:
            return empty
        done = np.ones(len(self._lines), bool) if every else np.isin(self._lines, closed)
        if not done.any():
            return empty
        rows = self._rows.filter(booleans(done))
        lines = self._lines[done]
        self._rows = self._rows.filter(booleans(~done))
        self._lines = self._lines[~done]
        order = np.argsort(lines, kind="stable")
        rows, lines = rows.take(numbers(order)), lines[order]
        if not self._to_message:
            return rows
        to_message = np.concatenate(self._to_message)
        to_line = np.concatenate(self._to_line)
        to_value = pa.concat_arrays(self._to_value)
        taken = np.isin(to_message, lines)
        keep = booleans(~taken)
        self._to_message, self._to_line = [to_message[~taken]], [to_line[~taken]]
        self._to_value = [to_value.filter(keep)]
        if not taken.any():
            return rows
        row_index = np.searchsorted(lines, to_message[taken])
        pair = np.lexsort((to_line[taken], row_index))
        values = to_value.filter(booleans(taken)).take(numbers(pair))
        return set_recipients(rows, row_index[pair], values)
