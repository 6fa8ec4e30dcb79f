"""What classified material a person moved out, by level and compartment, in plain words.

For an explanation on day d: the day's own movements, or on a notice day (and while departing)
the lookback window of the last 90 days ending on d. A movement is a classified item (level >=
CONFIDENTIAL, from `event_labels`) copied to removable media, mailed outside the organisation's
domains, uploaded, or printed. Each group says whether the person was cleared for it (clearance
level and compartments, `clearances`; once any clearances exist, a person without one is
UNCLASSIFIED, as in `context_daily`; with none at all nothing is called uncleared). Only data up
to the end of d is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from molehunt.store.database import Store

LOOKBACK_DAYS = 90
CHANNEL_WORDS = {
    "removable": "copied {what} to removable media",
    "emailed": "mailed {what} outside the organisation",
    "uploaded": "uploaded {what}",
    "printed": "printed {what}",
}

_MOVEMENTS = """
WITH org AS (
    SELECT coalesce(list(DISTINCT lower(split_part(email, '@', 2))), []::VARCHAR[]) AS domains
    FROM people WHERE contains(email, '@')),
clr AS (
    SELECT arg_max(level_rank, source_id * 10000000000 + source_line) AS rank,
        arg_max(compartments, source_id * 10000000000 + source_line) AS compartments
    FROM clearances WHERE user_id = $1),
known AS (SELECT count(*) > 0 AS any_clearance FROM clearances),
moved AS (
    SELECT e.time::DATE AS day, l.level, l.level_rank,
        coalesce(l.document, e.object) AS document,
        CASE WHEN e.channel = 'file' AND e.removable IN ('to', 'both') THEN 'removable'
            WHEN e.channel = 'http' AND e.action = 'upload' THEN 'uploaded'
            WHEN e.channel = 'print' THEN 'printed'
            WHEN e.channel = 'email' AND e.action = 'send' AND len(list_filter(
                string_split(lower(coalesce(e.object, '')), ';'),
                lambda r: contains(r, '@') AND NOT list_contains(
                    CASE WHEN len(org.domains) > 0 THEN org.domains
                    ELSE [lower(split_part(e.sender, '@', 2))] END,
                    split_part(trim(r), '@', 2)))) > 0 THEN 'emailed' END AS channel,
        CASE WHEN len(l.compartments) = 0 THEN [NULL::VARCHAR] ELSE l.compartments END
            AS compartments
    FROM events e JOIN event_labels l USING (source_id, source_line) CROSS JOIN org
    WHERE e.user = $1 AND l.level_rank >= 1
        AND e.time >= $2::TIMESTAMP AND e.time < ($3 + 1)::TIMESTAMP)
SELECT m.channel, m.level, m.level_rank, c.compartment,
    count(DISTINCT m.document) AS documents, min(m.day) AS first_day, max(m.day) AS last_day,
    NOT (SELECT any_clearance FROM known)
        OR m.level_rank <= coalesce((SELECT rank FROM clr), 0) AS level_cleared,
    NOT (SELECT any_clearance FROM known) OR c.compartment IS NULL OR list_contains(
        coalesce((SELECT compartments FROM clr), []::VARCHAR[]), c.compartment)
        AS compartment_cleared
FROM moved m, unnest(m.compartments) AS c(compartment)
WHERE m.channel IS NOT NULL
GROUP BY m.channel, m.level, m.level_rank, c.compartment
ORDER BY list_position(['removable', 'emailed', 'uploaded', 'printed'], m.channel),
    m.level_rank DESC, documents DESC, c.compartment NULLS LAST"""


@dataclass(frozen=True)
class ClassifiedMovement:
    """Classified documents of one level and compartment moved out through one channel.

    Args:
        channel: `removable`, `emailed`, `uploaded` or `printed`.
        level: The level name (e.g. SECRET).
        compartment: The compartment (None: no compartment).
        documents: Distinct documents.
        first_day: First day of such a movement in the window.
        last_day: Last such day.
        level_cleared: The person's clearance covers the level.
        compartment_cleared: The person is read into the compartment (True without one).
    """

    channel: str
    level: str
    compartment: str | None
    documents: int
    first_day: date
    last_day: date
    level_cleared: bool
    compartment_cleared: bool

    def text(self, day: date, notice: bool) -> str:
        """Return the movement in words, e.g. "copied 37 SECRET documents of project K-7 ...".

        Args:
            day: The explained day.
            notice: Whether `day` is a resignation or termination notice day.

        Returns:
            One sentence fragment.
        """
        noun = "document" if self.documents == 1 else "documents"
        what = f"{self.documents} {self.level} {noun}"
        if self.compartment is not None:
            name = self.compartment
            if not name.lower().startswith("project"):
                name = f"project {name}"
            what += f" of {name}"
        flags = []
        if not self.compartment_cleared and self.compartment is not None:
            flags.append(f"not cleared for {self.compartment}")
        if not self.level_cleared:
            flags.append(f"above clearance: {self.level}")
        if flags:
            what += f" ({'; '.join(flags)})"
        sentence = CHANNEL_WORDS[self.channel].format(what=what)
        if notice:
            span = (day - self.first_day).days
            sentence += f" in the {span} days before the notice" if span else " on the notice day"
        elif self.first_day != self.last_day:
            sentence += f" between {self.first_day.isoformat()} and {self.last_day.isoformat()}"
        return sentence

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping.

        Returns:
            The fields, days as ISO text.
        """
        data = asdict(self)
        data["first_day"] = self.first_day.isoformat()
        data["last_day"] = self.last_day.isoformat()
        return data


def _has_tables(store: Store) -> bool:
    needed = {"event_labels", "clearances", "people"}
    rows = store.query("SELECT table_name FROM duckdb_tables()")
    return needed <= {str(row[0]) for row in rows}


def classified_movements(
    store: Store, user: str, day: date, lookback: bool
) -> list[ClassifiedMovement]:
    """Return the classified documents a person moved out, by channel, level and compartment.

    Args:
        store: The workspace (context ingested and labelled by `run_detection`).
        user: The person.
        day: The explained day (nothing after it is read).
        lookback: Cover the `LOOKBACK_DAYS` days ending on `day` (notice day, departing);
            else `day` only.

    Returns:
        Groups by channel, then level (highest first); empty without context.
    """
    if not _has_tables(store):
        return []
    low = day - timedelta(days=LOOKBACK_DAYS - 1) if lookback else day
    rows = store.query(_MOVEMENTS, [user, low, day])
    return [ClassifiedMovement(*row[:2], *row[3:]) for row in rows]
