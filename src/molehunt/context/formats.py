"""Context file formats: documents, clearances, HR events (also Purview-style), travel.

A format is recognised from the file's name (`documents.csv`, `hr_events.jsonl`) or, failing
that, from its columns (CSV header or the first JSON object's keys). Column names are matched
case-insensitively against each field's accepted names. `format_sql` turns a format into the two
queries `molehunt.ingest.source.ingest_file` runs per chunk: good rows for the context table, and
`_line, reason` for rows that cannot be stored (unknown level, user, kind or date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from molehunt.context.scale import CANONICAL_LEVELS, NORMALIZE_SQL
from molehunt.errors import LayoutError
from molehunt.ingest.cert_layout import reason_sql

HR_KINDS = (
    "resignation_notice",
    "last_working_day",
    "termination",
    "grievance",
    "performance_plan",
    "disciplinary_action",
    "financial_stress",
)
DATE_HINT = "MM/DD/YYYY or YYYY-MM-DD"


@dataclass(frozen=True)
class ContextFormat:
    """One context file format.

    Args:
        kind: Registry key (documents, clearances, hr_events, purview, travel).
        table: The context table it fills.
        fields: Canonical field -> accepted column names (lower case), in file order.
        required: Fields every file must have.
        any_of: Fields of which a file must have at least one (empty: no such rule).
    """

    kind: str
    table: str
    fields: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    any_of: tuple[str, ...] = ()

    def field_for(self, column: str) -> str | None:
        """Return the canonical field a column name stands for, or None."""
        name = column.strip().lower()
        for field, names in self.fields.items():
            if name in names:
                return field
        return None

    def resolve(self, columns: list[str]) -> dict[str, str] | None:
        """Map a file's columns to fields; None when they do not fit this format."""
        mapping: dict[str, str] = {}
        for column in columns:
            field = self.field_for(column)
            if field is None or field in mapping.values():
                return None
            mapping[column] = field
        present = set(mapping.values())
        if not set(self.required) <= present:
            return None
        if self.any_of and not present & set(self.any_of):
            return None
        return mapping

    def describe(self) -> str:
        """The expected columns, for error messages."""
        names = [names[0] for names in self.fields.values()]
        text = f"{self.kind}: " + ",".join(names) + f" (required: {','.join(self.required)}"
        if self.any_of:
            text += f"; at least one of {','.join(self.any_of)}"
        return text + ")"


_USER = ("user", "user_id", "email", "emailaddress")
formats: dict[str, ContextFormat] = {
    f.kind: f
    for f in (
        ContextFormat(
            "documents",
            "documents",
            {
                "path": ("path", "file_path", "filepath"),
                "name": ("name", "file_name", "filename"),
                "glob": ("glob", "pattern", "path_glob"),
                "hash": ("hash", "sha256", "content_hash", "md5"),
                "level": ("classification", "level", "marking"),
                "compartments": ("compartments", "compartment", "projects"),
                "owner": ("owner",),
            },
            ("level",),
            ("path", "name", "glob", "hash"),
        ),
        ContextFormat(
            "clearances",
            "clearances",
            {
                "user": _USER,
                "level": ("level", "clearance", "classification"),
                "compartments": ("compartments", "projects", "need_to_know"),
                "priority": ("priority", "priority_user"),
            },
            ("user", "level"),
        ),
        ContextFormat(
            "hr_events",
            "hr_events",
            {
                "user": _USER,
                "kind": ("kind", "event", "type"),
                "date": ("date", "day"),
                "detail": ("detail", "details", "note"),
            },
            ("user", "kind", "date"),
        ),
        ContextFormat(
            "purview",
            "hr_events",
            {
                "user": ("emailaddress",),
                "date": ("resignationdate",),
                "last_day": ("lastworkingdate",),
            },
            ("user", "date"),
        ),
        ContextFormat(
            "travel",
            "travel",
            {
                "user": _USER,
                "depart": ("depart", "departure", "start"),
                "return": ("return", "return_day", "end"),
                "countries": ("countries", "country", "destinations"),
                "declared": ("declared",),
            },
            ("user", "depart", "countries", "declared"),
        ),
    )
}


def detect_format(path: Path, columns: list[str]) -> tuple[ContextFormat, dict[str, str]]:
    """Recognise a context file from its name and columns.

    Args:
        path: The file (its stem, e.g. `documents`, decides first).
        columns: CSV header names or the first JSON object's keys.

    Returns:
        The format and the column -> field mapping.

    Raises:
        LayoutError: The columns fit no format (naming the expected columns).
    """
    stem = path.name.split(".")[0].lower()
    candidates = [formats[stem]] if stem in formats else list(formats.values())
    fits = [(f, m) for f in candidates if (m := f.resolve(columns)) is not None]
    if len(fits) == 1:
        return fits[0]
    expected = "; ".join(f.describe() for f in candidates)
    problem = "fit more than one format" if fits else "fit no context format"
    raise LayoutError(
        f"{path}: columns {','.join(columns) or '(none)'} {problem}; expected {expected}"
    )


# -- SQL ----------------------------------------------------------------------------------------


def _date(column: str) -> str:
    value = f"trim(r.f_{column})"
    return (
        f"coalesce(try_strptime({value}, ['%m/%d/%Y', '%Y-%m-%d']), "
        f"try_cast({value} AS TIMESTAMPTZ)::TIMESTAMP)::DATE"
    )


def _date_check(column: str, label: str, required: bool) -> list[tuple[str, str]]:
    value = f"trim(r.f_{column})"
    checks = [(f"{value} = ''", f"'missing {label}'")] if required else []
    checks.append(
        (
            f"{value} <> '' AND {_date(column)} IS NULL",
            f"'unparsable {label} ''' || {value} || ''' (expected {DATE_HINT})'",
        )
    )
    return checks


def _list(column: str, *, as_set: bool = True) -> str:
    items = f"string_split(trim(r.f_{column}), ';')"
    kept = f"list_filter(list_transform({items}, lambda x: trim(x)), lambda x: x <> '')"
    return f"list_sort(list_distinct({kept}))::VARCHAR[]" if as_set else f"{kept}::VARCHAR[]"


def _levels_sql(lookup: Mapping[str, int]) -> str:
    rows = ", ".join(
        "('" + key.replace("'", "''") + f"', {rank})" for key, rank in sorted(lookup.items())
    )
    return f"(VALUES {rows}) AS lv(level_key, level_rank)"


def _level_checks() -> list[tuple[str, str]]:
    known = ", ".join(CANONICAL_LEVELS)
    return [
        ("trim(r.f_level) = ''", "'missing classification level'"),
        (
            "lv.level_rank IS NULL",
            f"'unknown level ''' || trim(r.f_level) || ''' (expected a level of a known scale, "
            f"e.g. {known})'",
        ),
    ]


# People named by e-mail map through LDAP; with no LDAP ingested, ids are taken as given.
_EMAIL_JOIN = (
    " LEFT JOIN (SELECT lower(email) AS email_key, min(user_id) AS user_id FROM people "
    "WHERE email IS NOT NULL GROUP BY 1) pm ON pm.email_key = lower(trim(r.f_{col}))"
)
_PEOPLE_JOINS = (
    _EMAIL_JOIN
    + " LEFT JOIN (SELECT DISTINCT user_id FROM people) pk ON pk.user_id = trim(r.f_{col})"
)
_HAS_PEOPLE = " CROSS JOIN (SELECT count(*) > 0 AS has_people FROM people) hp"
_USER_SQL = (
    "CASE WHEN NOT hp.has_people THEN (CASE WHEN contains(trim(r.f_{col}), '@') "
    "THEN lower(trim(r.f_{col})) ELSE trim(r.f_{col}) END) "
    "ELSE coalesce(pm.user_id, pk.user_id) END"
)


def _user_checks() -> list[tuple[str, str]]:
    return [
        ("trim(r.f_user) = ''", "'missing user'"),
        (
            f"({_USER_SQL.format(col='user')}) IS NULL",
            "'unknown user ''' || trim(r.f_user) || ''' (not in the LDAP people table)'",
        ),
    ]


def _select(
    values: dict[str, str], checks: list[tuple[str, str]], relation: str, joins: str
) -> tuple[str, str]:
    reason = reason_sql(checks)
    columns = ", ".join(f'{expression} AS "{name}"' for name, expression in values.items())
    source = f"{relation} AS r{joins}"
    rows = f"SELECT {columns} FROM {source} WHERE ({reason}) IS NULL"
    rejects = f'SELECT r."_line", {reason} AS reason FROM {source} WHERE ({reason}) IS NOT NULL'
    return rows, rejects


def format_sql(
    kind: str, lookup: Mapping[str, int], source_id: int, relation: str
) -> tuple[str, str]:
    """Build the rows and rejects queries for a chunk of one context format.

    Args:
        kind: Key of `formats`.
        lookup: Normalised level name -> canonical rank (all scales in force).
        source_id: The file's `sources` id.
        relation: The registered chunk: one VARCHAR column per field of the format, plus `_line`.

    Returns:
        (rows query with the table's columns, `_line, reason` query for bad rows).
    """
    tail = {"source_id": str(source_id), "source_line": 'r."_line"'}
    builder = {
        "documents": _documents_sql,
        "clearances": _clearances_sql,
        "hr_events": _hr_sql,
        "purview": _purview_sql,
        "travel": _travel_sql,
    }[kind]
    values, checks, joins = builder(lookup)
    return _select(values | tail, checks, relation, joins)


_Parts = tuple[dict[str, str], list[tuple[str, str]], str]


def _level_join(lookup: Mapping[str, int]) -> str:
    return f" LEFT JOIN {_levels_sql(lookup)} ON lv.level_key = {NORMALIZE_SQL.format('r.f_level')}"


def _documents_sql(lookup: Mapping[str, int]) -> _Parts:
    path, glob, digest, name = (
        f"nullif(trim(r.f_{c}), '')" for c in ("path", "glob", "hash", "name")
    )
    path_is_glob = f"regexp_matches(coalesce({path}, ''), '[*?]')"
    key = (
        f"coalesce(CASE WHEN NOT {path_is_glob} THEN {path} END, {glob}, {path}, {digest}, {name})"
    )
    kind = (
        f"CASE WHEN {path} IS NOT NULL AND NOT {path_is_glob} THEN 'path' "
        f"WHEN {glob} IS NOT NULL OR {path} IS NOT NULL THEN 'glob' "
        f"WHEN {digest} IS NOT NULL THEN 'hash' ELSE 'name' END"
    )
    basename = f"CASE WHEN NOT {path_is_glob} THEN regexp_extract({path}, '[^\\\\/]+$') END"
    owner = "nullif(trim(r.f_owner), '')"
    values = {
        "doc_key": key,
        "match_kind": kind,
        "level": "(['" + "', '".join(CANONICAL_LEVELS) + "'])[lv.level_rank + 1]",
        "level_rank": "lv.level_rank",
        "compartments": _list("compartments"),
        "owner": f"CASE WHEN contains({owner}, '@') THEN coalesce(pm.user_id, {owner}) "
        f"ELSE {owner} END",
        "name": f"coalesce({name}, nullif({basename}, ''))",
        "content_hash": f"lower({digest})",
    }
    checks = [(f"{key} IS NULL", "'missing path, name, glob or hash'"), *_level_checks()]
    joins = _level_join(lookup) + _EMAIL_JOIN.format(col="owner")
    return values, checks, joins


def _clearances_sql(lookup: Mapping[str, int]) -> _Parts:
    priority = "lower(trim(r.f_priority))"
    values = {
        "user_id": _USER_SQL.format(col="user"),
        "level": "(['" + "', '".join(CANONICAL_LEVELS) + "'])[lv.level_rank + 1]",
        "level_rank": "lv.level_rank",
        "compartments": _list("compartments"),
        "priority": f"{priority} IN ('high', 'yes', 'true', '1')",
    }
    checks = [
        *_user_checks(),
        *_level_checks(),
        (
            f"{priority} NOT IN ('', 'high', 'normal', 'yes', 'no', 'true', 'false', '1', '0')",
            "'bad priority ''' || trim(r.f_priority) || ''' (expected high or normal)'",
        ),
    ]
    return values, checks, _level_join(lookup) + _PEOPLE_JOINS.format(col="user") + _HAS_PEOPLE


def _hr_sql(lookup: Mapping[str, int]) -> _Parts:
    kind = "lower(trim(r.f_kind))"
    values = {
        "user_id": _USER_SQL.format(col="user"),
        "kind": kind,
        "day": _date("date"),
        "detail": "nullif(trim(r.f_detail), '')",
        "last_day": "NULL::DATE",
    }
    checks = [
        *_user_checks(),
        (
            f"{kind} NOT IN {HR_KINDS}",
            "'unknown HR event kind ''' || trim(r.f_kind) || ''' (expected one of "
            + ", ".join(HR_KINDS)
            + ")'",
        ),
        *_date_check("date", "date", required=True),
    ]
    return values, checks, _PEOPLE_JOINS.format(col="user") + _HAS_PEOPLE


def _purview_sql(lookup: Mapping[str, int]) -> _Parts:
    values = {
        "user_id": _USER_SQL.format(col="user"),
        "kind": "'resignation_notice'",
        "day": _date("date"),
        "detail": "'Purview HR connector: resignation'",
        "last_day": _date("last_day"),
    }
    checks = [
        *_user_checks(),
        *_date_check("date", "ResignationDate", required=True),
        *_date_check("last_day", "LastWorkingDate", required=False),
    ]
    return values, checks, _PEOPLE_JOINS.format(col="user") + _HAS_PEOPLE


def _travel_sql(lookup: Mapping[str, int]) -> _Parts:
    declared = "lower(trim(r.f_declared))"
    values = {
        "user_id": _USER_SQL.format(col="user"),
        "depart": _date("depart"),
        "return_day": _date("return"),
        "countries": f"list_transform({_list('countries', as_set=False)}, lambda c: upper(c))",
        "declared": f"{declared} IN ('yes', 'true', '1', 'y')",
    }
    checks = [
        *_user_checks(),
        *_date_check("depart", "depart date", required=True),
        *_date_check("return", "return date", required=False),
        (
            f"{_date('return')} < {_date('depart')}",
            "'return date ''' || trim(r.f_return) || ''' is before depart date'",
        ),
        ("trim(r.f_countries) = ''", "'missing countries'"),
        (
            f"{declared} NOT IN ('yes', 'no', 'true', 'false', '1', '0', 'y', 'n')",
            "'bad declared value ''' || trim(r.f_declared) || ''' (expected yes or no)'",
        ),
    ]
    return values, checks, _PEOPLE_JOINS.format(col="user") + _HAS_PEOPLE
