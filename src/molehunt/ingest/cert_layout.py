"""CERT Insider Threat file layouts: recognise a file by its header, map it to molehunt tables.

The releases differ by column (r4.2 `file.csv` has no activity or removable-media columns,
r5.2+ do; r5.2+ `device.csv` has `file_tree`; r6.2 `http.csv` has `activity`; r5.2's public
logons lack `id`), so a layout is read off the header's column names, never assumed from a
release number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from molehunt.errors import LayoutError
from molehunt.events import EVENT_COLUMN_NAMES, EVENT_COLUMNS

DATE_FORMATS = "['%m/%d/%Y %H:%M:%S', '%Y-%m-%d %H:%M:%S', '%m/%d/%Y %H:%M']"
# The CERT format first, untrimmed (4x cheaper than a list of formats); the rest only for misses.
TIME_SQL = (
    "coalesce(try_strptime(\"date\", '%m/%d/%Y %H:%M:%S'), "
    f'try_strptime(trim("date"), {DATE_FORMATS}))'
)
MONTH_FILE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class ChannelSpec:
    """Which header columns a CERT file of one kind must and may have."""

    name: str
    required: frozenset[str]
    optional: frozenset[str]
    table: str  # 'events' or the context table it fills


CHANNEL_SPECS: dict[str, ChannelSpec] = {
    spec.name: spec
    for spec in (
        ChannelSpec(
            "logon", frozenset({"date", "user", "pc", "activity"}), frozenset({"id"}), "events"
        ),
        ChannelSpec(
            "device",
            frozenset({"date", "user", "pc", "activity"}),
            frozenset({"id", "file_tree"}),
            "events",
        ),
        ChannelSpec(
            "file",
            frozenset({"date", "user", "pc", "filename"}),
            frozenset({"id", "activity", "to_removable_media", "from_removable_media", "content"}),
            "events",
        ),
        ChannelSpec(
            "email",
            frozenset({"date", "user", "pc", "to", "from"}),
            frozenset({"id", "cc", "bcc", "activity", "size", "attachments", "content"}),
            "events",
        ),
        ChannelSpec(
            "http",
            frozenset({"date", "user", "pc", "url"}),
            frozenset({"id", "activity", "content"}),
            "events",
        ),
        # Not in CERT releases: the print jobs of a simulated institute (`molehunt simulate`).
        ChannelSpec(
            "print",
            frozenset({"date", "user", "pc", "printer", "document", "pages"}),
            frozenset({"id"}),
            "events",
        ),
        ChannelSpec(
            "ldap",
            frozenset(
                {
                    "employee_name",
                    "user_id",
                    "email",
                    "role",
                    "business_unit",
                    "functional_unit",
                    "department",
                    "team",
                    "supervisor",
                }
            ),
            frozenset({"projects"}),
            "people",
        ),
        ChannelSpec(
            "psychometric",
            frozenset({"employee_name", "user_id", "O", "C", "E", "A", "N"}),
            frozenset(),
            "psychometrics",
        ),
        ChannelSpec("decoy", frozenset({"decoy_filename", "pc"}), frozenset(), "decoys"),
    )
}

FILE_STEMS = {
    "logon": "logon",
    "device": "device",
    "file": "file",
    "email": "email",
    "http": "http",
    "print": "print",
    "psychometric": "psychometric",
    "decoy_file": "decoy",
    "decoy": "decoy",
}


@dataclass(frozen=True)
class Layout:
    """A recognised CERT file: its channel, columns and release-style label.

    Args:
        channel: Key of CHANNEL_SPECS.
        columns: Header column names, in file order.
        label: r4.2, r5.2+, r6.2 or cert (when the header does not tell).
        month: For LDAP snapshots, the snapshot month 'YYYY-MM'.
    """

    channel: str
    columns: tuple[str, ...]
    label: str
    month: str | None = None

    @property
    def table(self) -> str:
        """The table this layout fills."""
        return CHANNEL_SPECS[self.channel].table

    def has(self, column: str) -> bool:
        """Tell whether the file has `column`."""
        return column in self.columns


def channel_for_path(path: Path) -> str | None:
    """Guess a file's channel from its name: `logon.csv.gz` -> logon; LDAP/2010-01.csv -> ldap."""
    name = path.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if path.parent.name.lower() == "ldap" or MONTH_FILE.match(name):
        return "ldap"
    return FILE_STEMS.get(name.lower())


def detect_layout(path: Path, header: list[str], first_row: list[str] | None) -> Layout:
    """Recognise a CERT file from its name and header.

    Args:
        path: The file (its name decides between look-alike layouts).
        header: Column names from its first line.
        first_row: Fields of its first data row, if any (tells logon from device in r4.2).

    Returns:
        The layout.

    Raises:
        LayoutError: The header matches no known layout, naming the expected columns.
    """
    columns = set(header)
    if len(columns) != len(header):
        raise LayoutError(f"{path}: header repeats a column name: {','.join(header)}")
    channel = channel_for_path(path)
    if channel is None:
        channel = _channel_from_header(path, header, first_row)
    spec = CHANNEL_SPECS[channel]
    missing = spec.required - columns
    unknown = columns - spec.required - spec.optional
    if missing or unknown:
        expected = (
            ",".join(sorted(spec.required)) + " (optional: " + ",".join(sorted(spec.optional)) + ")"
        )
        problem = (
            f"missing column(s) {','.join(sorted(missing))}"
            if missing
            else f"unexpected column(s) {','.join(sorted(unknown))}"
        )
        raise LayoutError(
            f"{path}: unrecognized {channel} layout, {problem}; header is "
            f"{','.join(header) or '(empty)'}; expected columns {expected}"
        )
    month = None
    if channel == "ldap":
        month = _snapshot_month(path)
    return Layout(channel, tuple(header), _label(channel, columns), month)


def _channel_from_header(path: Path, header: list[str], first_row: list[str] | None) -> str:
    columns = set(header)
    matches = [
        spec.name
        for spec in CHANNEL_SPECS.values()
        if spec.required <= columns and columns <= spec.required | spec.optional
    ]
    if set(matches) == {"logon", "device"} and first_row is not None:
        activity = _value(first_row, header, "activity").lower()
        matches = ["device"] if activity in ("connect", "disconnect") else ["logon"]
    if len(matches) != 1:
        raise LayoutError(
            f"{path}: cannot tell which CERT file this is from its name or header "
            f"({','.join(sorted(columns)) or 'empty'}); expected a file named logon, device, "
            "file, email, http, print, psychometric or decoy_file (.csv or .csv.gz), or "
            "LDAP/YYYY-MM.csv"
        )
    return matches[0]


def _value(row: list[str], header: list[str], column: str) -> str:
    return row[header.index(column)] if column in header and header.index(column) < len(row) else ""


def _snapshot_month(path: Path) -> str:
    stem = path.name.split(".")[0]
    match = MONTH_FILE.match(stem)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise LayoutError(
            f"{path}: LDAP snapshot file name must be YYYY-MM.csv (the month it shows)"
        )
    return stem


def _label(channel: str, columns: set[str]) -> str:
    if channel == "http":
        return "r6.2" if "activity" in columns else "r4.2"
    if channel == "device":
        return "r5.2+" if "file_tree" in columns else "r4.2"
    if channel in ("file", "email"):
        return "r5.2+" if "activity" in columns else "r4.2"
    return "cert"


# -- SQL: from split string columns (plus `_line`) to table rows and reject reasons ------------


def _col(layout: Layout, name: str) -> str:
    """SQL for a trimmed column, or NULL when the file lacks it."""
    return f'trim("{name}")' if layout.has(name) else "NULL"


def reason_sql(checks: list[tuple[str, str]]) -> str:
    """CASE expression giving the first failing check's message (NULL when all pass)."""
    whens = " ".join(f"WHEN {condition} THEN {message}" for condition, message in checks)
    return f"CASE {whens} ELSE NULL END"


def _common_checks(layout: Layout) -> list[tuple[str, str]]:
    date = 'trim("date")'
    return [
        (f"{date} = ''", "'missing date'"),
        (
            f"{TIME_SQL} IS NULL",
            f"'unparsable date ''' || {date} || ''' (expected MM/DD/YYYY HH:MM:SS)'",
        ),
        ("trim(\"user\") = ''", "'missing user'"),
    ]


_PAGES = 'trim("pages")'
# print.csv -> events (docs/events.md): host = printer, object = document, attachment_count =
# pages, content = the client machine.
PRINT_VALUES = {
    "action": "'print'",
    "host": "nullif(trim(\"printer\"), '')",
    "object": "nullif(trim(\"document\"), '')",
    "attachment_count": f"try_cast(nullif({_PAGES}, '') AS INTEGER)",
    "content": "nullif(trim(\"pc\"), '')",
}
PRINT_CHECKS = [
    ("trim(\"document\") = ''", "'missing document'"),
    (
        f"{_PAGES} <> '' AND coalesce(try_cast({_PAGES} AS INTEGER) < 0, true)",
        f"'bad number ''' || {_PAGES} || ''' in field pages (expected a whole number >= 0)'",
    ),
]


def _event_select(layout: Layout, source_id: int) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Column expressions and checks for an activity file (events table)."""
    channel = layout.channel
    checks = _common_checks(layout)
    hashed = " || chr(31) || ".join(f'"{c}"' for c in layout.columns)
    row_id = f"'h' || substr(md5('{channel}' || chr(31) || {hashed}), 1, 23)"
    values = {name: "NULL" for name in EVENT_COLUMN_NAMES}
    values.update(
        event_id=f"coalesce(nullif({_col(layout, 'id')}, ''), {row_id})",
        time=TIME_SQL,
        user='trim("user")',
        host="nullif(trim(\"pc\"), '')",
        channel=f"'{channel}'",
        # content is most of the bytes: no trim (a copy of every string), just empty -> NULL
        content="nullif(\"content\", '')" if layout.has("content") else "NULL",
        source_id=str(source_id),
        source_line='"_line"',
    )
    activity = 'lower(trim("activity"))'
    if channel in ("logon", "device"):
        allowed = ("logon", "logoff") if channel == "logon" else ("connect", "disconnect")
        values["action"] = activity
        checks.append(
            (
                f"{activity} NOT IN {allowed}",
                f"'unknown activity ''' || trim(\"activity\") || ''' (expected "
                f"{' or '.join(a.capitalize() for a in allowed)})'",
            )
        )
        if channel == "device":
            values["object"] = f"nullif({_col(layout, 'file_tree')}, '')"
    elif channel == "file":
        _file_values(layout, values, checks)
    elif channel == "email":
        _email_values(layout, values, checks)
    elif channel == "print":
        _print_values(values, checks)
    elif channel == "http":
        values["object"] = 'trim("url")'
        values["action"] = (
            """lower(regexp_replace(trim("activity"), '^www\\s+', '', 'i'))"""
            if layout.has("activity")
            else "'visit'"
        )
    return values, checks


def _file_values(layout: Layout, values: dict[str, str], checks: list[tuple[str, str]]) -> None:
    values["object"] = 'trim("filename")'
    if layout.has("activity"):
        values["action"] = """lower(regexp_replace(trim("activity"), '^file\\s+', '', 'i'))"""
    else:
        values["action"] = "'copy'"  # r4.2: every row is a copy to removable media
    if layout.has("to_removable_media") and layout.has("from_removable_media"):
        to = 'lower(trim("to_removable_media"))'
        source = 'lower(trim("from_removable_media"))'
        for column, expression in (("to_removable_media", to), ("from_removable_media", source)):
            checks.append(
                (
                    f"{expression} NOT IN ('true', 'false')",
                    f"'bad boolean ''' || trim(\"{column}\") || ''' in field {column} "
                    "(expected True or False)'",
                )
            )
        values["removable"] = (
            f"CASE WHEN {to} = 'true' AND {source} = 'true' THEN 'both' "
            f"WHEN {to} = 'true' THEN 'to' WHEN {source} = 'true' THEN 'from' ELSE 'none' END"
        )
    else:
        values["removable"] = "'to'"


def _print_values(values: dict[str, str], checks: list[tuple[str, str]]) -> None:
    """A print job (docs/events.md): host = printer, object = document, pages, client pc."""
    values.update(PRINT_VALUES)
    checks.extend(PRINT_CHECKS)


def _email_values(layout: Layout, values: dict[str, str], checks: list[tuple[str, str]]) -> None:
    to, cc, bcc = (f"nullif({_col(layout, c)}, '')" for c in ("to", "cc", "bcc"))
    values.update(
        recipients_to=to,
        recipients_cc=cc,
        recipients_bcc=bcc,
        sender="nullif(trim(\"from\"), '')",
        object=f"nullif(concat_ws(';', {to}, {cc}, {bcc}), '')",
        action='lower(trim("activity"))' if layout.has("activity") else "'send'",
    )
    if layout.has("size"):
        values["size_bytes"] = "try_cast(nullif(trim(\"size\"), '') AS BIGINT)"
        checks.append(
            (
                'trim("size") <> \'\' AND try_cast(trim("size") AS BIGINT) IS NULL',
                "'bad number ''' || trim(\"size\") || ''' in field size'",
            )
        )
    if layout.has("attachments"):
        raw = 'trim("attachments")'
        items = f"string_split({raw}, ';')"
        is_count = f"regexp_full_match({raw}, '[0-9]+')"
        values["attachment_count"] = (
            f"CASE WHEN {raw} = '' THEN 0 WHEN {is_count} THEN try_cast({raw} AS INTEGER) "
            f"ELSE len({items}) END"
        )
        values["attachment_names"] = (
            f"CASE WHEN {raw} = '' OR {is_count} THEN NULL ELSE array_to_string(list_transform("
            rf"{items}, lambda a: regexp_replace(trim(a), '\(\d+\)$', '')), ';') END"
        )
        values["attachment_bytes"] = (
            f"CASE WHEN {raw} = '' OR {is_count} THEN NULL ELSE list_sum(list_transform({items}, "
            r"lambda a: try_cast(regexp_extract(trim(a), '\((\d+)\)$', 1) AS BIGINT))) END"
        )


def _context_select(layout: Layout, source_id: int) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Column expressions and checks for LDAP, psychometric and decoy files."""
    tail = {"source_id": str(source_id), "source_line": '"_line"'}
    if layout.channel == "ldap":
        names = (
            "employee_name",
            "email",
            "role",
            "projects",
            "business_unit",
            "functional_unit",
            "department",
            "team",
            "supervisor",
        )
        values = {"month": f"'{layout.month}'", "user_id": 'trim("user_id")'}
        for name in names:
            target = "name" if name == "employee_name" else name
            values[target] = f"nullif({_col(layout, name)}, '')"
        return values | tail, [("trim(\"user_id\") = ''", "'missing user_id'")]
    if layout.channel == "psychometric":
        values = {"user_id": 'trim("user_id")', "name": "nullif(trim(\"employee_name\"), '')"}
        checks = [("trim(\"user_id\") = ''", "'missing user_id'")]
        for letter, trait in zip(
            "OCEAN",
            ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"),
            strict=True,
        ):
            values[trait] = f'try_cast(trim("{letter}") AS INTEGER)'
            checks.append(
                (
                    f'try_cast(trim("{letter}") AS INTEGER) IS NULL',
                    f"'bad number ''' || trim(\"{letter}\") || ''' in field {letter}'",
                )
            )
        return values | tail, checks
    values = {"file_name": 'trim("decoy_filename")', "host": "nullif(trim(\"pc\"), '')"}
    return values | tail, [("trim(\"decoy_filename\") = ''", "'missing decoy_filename'")]


_TRIM = re.compile(r'trim\("(\w+)"\)')


def _cheap_trims(sql: str) -> str:
    """Rewrite `trim("col")` to trim only values that need it.

    Real logs rarely pad fields; testing the ends is 3x cheaper than DuckDB's `trim`, which
    copies every string.
    """
    return _TRIM.sub(
        lambda m: (
            f"(CASE WHEN starts_with(\"{m[1]}\", ' ') OR ends_with(\"{m[1]}\", ' ') "
            f'THEN trim("{m[1]}") ELSE "{m[1]}" END)'
        ),
        sql,
    )


def plan_sql(layout: Layout, source_id: int, relation: str) -> tuple[str, str]:
    """Build the two queries that turn a split chunk into rows and rejects.

    Args:
        layout: The file's layout.
        source_id: Its `sources` id.
        relation: Name of the registered chunk table (string columns + `_line`).

    Returns:
        (rows query: target-table columns in order, for good rows;
         rejects query: `_line, reason` for bad rows).
    """
    if layout.table == "events":
        values, checks = _event_select(layout, source_id)
        types = {c.name: c.sql_type for c in EVENT_COLUMNS}
        values = {name: f"CAST({expr} AS {types[name]})" for name, expr in values.items()}
    else:
        values, checks = _context_select(layout, source_id)
    reason = _cheap_trims(reason_sql(checks))
    columns = ", ".join(
        f'{_cheap_trims(expression)} AS "{name}"' for name, expression in values.items()
    )
    rows = f"SELECT {columns} FROM {relation} WHERE ({reason}) IS NULL"
    rejects = f'SELECT "_line", {reason} AS reason FROM {relation} WHERE ({reason}) IS NOT NULL'
    return rows, rejects
