"""Local times without a zone or a year (syslog, CUPS): `--timezone` and the file's date.

BSD syslog stamps (`Mar  4 08:09:10`) carry neither year nor zone. The zone is the one given
with `--timezone` (IANA name, default UTC). The year is the file's: the year of its
modification time, read in that zone; a stamp that would fall more than a day after the file
was last written belongs to the year before (a log that runs from December into January).
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from molehunt.errors import ConfigError

DEFAULT_TIMEZONE = "UTC"


def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA time zone `name`.

    Raises:
        ConfigError: No such zone.
    """
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone '{name}' (expected an IANA name such as Europe/Berlin or UTC)"
        ) from None


@dataclass
class LocalClock:
    """Turns a file's zone-less local times into UTC.

    Args:
        zone: The zone local times are in.
        written: When the file was last written (aware); years are inferred from it.
    """

    zone: zoneinfo.ZoneInfo
    written: datetime.datetime
    _cache: dict[tuple[str, str], str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def for_file(cls, path: Path, zone_name: str = DEFAULT_TIMEZONE) -> LocalClock:
        """The clock of `path`: its modification time, in the zone named `zone_name`."""
        zone = load_zone(zone_name)
        written = datetime.datetime.fromtimestamp(path.stat().st_mtime, zone)
        return cls(zone, written)

    def describe(self, what: str) -> str:
        """One line for the import report saying how `what` times were read."""
        return (
            f"{what} read as {self.zone.key}; a time without a year takes the year of the "
            f"file's date {self.written:%Y-%m-%d} (one after that date: the year before)"
        )

    def utc(self, local: datetime.datetime) -> str:
        """ISO 8601 UTC of a naive local time (an aware one keeps its own offset)."""
        if local.tzinfo is None:
            local = local.replace(tzinfo=self.zone)
        moment = local.astimezone(datetime.UTC)
        if moment.microsecond:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def iso(self, text: str) -> str | None:
        """An ISO 8601 time as UTC: one without an offset is local to the clock's zone."""
        try:
            moment = datetime.datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        return self.utc(moment)

    def parse(self, text: str, pattern: str) -> str | None:
        """UTC ISO 8601 of `text` read with strptime `pattern`, or None if it does not fit.

        A pattern without `%Y` gets the year inferred from the file's date; one without
        `%z` is read in the clock's zone. Results are cached (logs repeat their seconds).
        """
        key = (text, pattern)
        if key in self._cache:
            return self._cache[key]
        self._cache[key] = result = self._parse(text, pattern)
        if len(self._cache) > 100_000:
            self._cache.clear()
        return result

    def _parse(self, text: str, pattern: str) -> str | None:
        if "%Y" in pattern:
            try:
                return self.utc(datetime.datetime.strptime(text, pattern))
            except ValueError:
                return None
        year = self.written.year
        for candidate in (year, year - 1):
            try:
                moment = datetime.datetime.strptime(f"{candidate} {text}", f"%Y {pattern}")
            except ValueError:
                continue  # 29 Feb outside a leap year: try the year before
            local = moment.replace(tzinfo=self.zone) if moment.tzinfo is None else moment
            if local <= self.written + datetime.timedelta(days=1) or candidate < year:
                return self.utc(local)
        return None
