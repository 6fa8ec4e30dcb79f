"""What every request handler shares: the workspace snapshot, the workbench, pseudonyms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from molehunt.serve.auth import Principal, Pseudonymizer, bearer_token, parse_session
from molehunt.serve.errors import ServeError
from molehunt.serve.snapshot import SnapshotReader
from molehunt.serve.views import (
    AnswerCache,
    PeopleIndex,
    finding_data,
    person_data,
    queue_data,
)
from molehunt.serve.workbench import Clock, Workbench
from molehunt.store.database import Store


@dataclass
class ServeContext:
    """The server's shared state, built once by `create_app`.

    Args:
        root: The workspace folder.
        now: The clock (UTC).
        reader: Snapshot copies of the workspace.
        workbench: Tokens, cases, audit log.
        names: The pseudonymizer.
        people: Pseudonym -> user id.
        answers: Queue and finding answers of the current snapshot.
    """

    root: Path
    now: Clock
    reader: SnapshotReader
    workbench: Workbench
    names: Pseudonymizer
    people: PeopleIndex
    answers: AnswerCache

    def queue(self, day: date | None, top: int) -> dict[str, Any]:
        """Return the queue of a day (cached until the snapshot or the cases change)."""
        store, generation = self.reader.current()
        key = ("queue", generation, self.workbench.version(), day, top)
        return self.answers.get(
            key, lambda: queue_data(store, self.workbench, self.names, day, top)
        )

    def person(self, pseudonym: str, day: date | None) -> dict[str, Any]:
        """Return a person's page data (cached until the snapshot changes)."""
        user = self.user(pseudonym)
        store, generation = self.reader.current()
        key = ("person", generation, user, day)
        return self.answers.get(key, lambda: person_data(store, self.names, user, day))

    def finding(self, pseudonym: str, day: date) -> dict[str, Any]:
        """Return a person's finding of a day (cached until the snapshot changes)."""
        user = self.user(pseudonym)
        store, generation = self.reader.current()
        key = ("finding", generation, user, day)
        return self.answers.get(key, lambda: finding_data(store, self.names, user, day))

    def store(self) -> Store:
        """Return the current read-only snapshot of the workspace."""
        return self.reader.store()

    def user(self, pseudonym: str) -> str:
        """Return the user id behind a pseudonym (NotFoundError when unknown)."""
        store, generation = self.reader.current()
        return self.people.user(store, generation, pseudonym)

    def from_header(self, authorization: str | None) -> Principal:
        """Return who sent a bearer token (AuthenticationError when missing or unknown)."""
        return self.workbench.principal(token=bearer_token(authorization))

    def from_session(self, cookie: str | None) -> Principal:
        """Return who holds a session cookie (AuthenticationError when missing or invalid)."""
        token_id = parse_session(self.names, cookie, self.now().timestamp())
        return self.workbench.principal(token_id=token_id)


def parse_day(text: str | None) -> date | None:
    """Return an ISO day, or None for None/empty.

    Raises:
        ServeError: Not YYYY-MM-DD.
    """
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ServeError(f"bad date {text!r}: expected YYYY-MM-DD") from None
