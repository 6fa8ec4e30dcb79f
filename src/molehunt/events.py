"""The canonical event contract shared by every stage: columns, channels and actions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventColumn:
    """One column of the normalized `events` table.

    Args:
        name: Column name.
        sql_type: DuckDB type.
        description: What it holds.
        ocsf: The OCSF attribute it corresponds to (empty when OCSF has none).
    """

    name: str
    sql_type: str
    description: str
    ocsf: str = ""


EVENT_COLUMNS: tuple[EventColumn, ...] = (
    EventColumn(
        "event_id", "VARCHAR", "Source id (CERT `id`) or a stable hash of the row", "metadata.uid"
    ),
    EventColumn("time", "TIMESTAMP", "When it happened, UTC", "time"),
    EventColumn("user", "VARCHAR", "Account that acted (CERT user id)", "actor.user.uid"),
    EventColumn("host", "VARCHAR", "Machine it happened on (CERT pc)", "device.hostname"),
    EventColumn("channel", "VARCHAR", "logon, device, file, email, http, print, ...", "class_name"),
    EventColumn("action", "VARCHAR", "Normalized verb; see ACTIONS", "activity_name"),
    EventColumn(
        "object",
        "VARCHAR",
        "File path, URL, device file tree, or all email recipients joined by ';'",
        "file.path / http_request.url / email.to",
    ),
    EventColumn("size_bytes", "BIGINT", "Message or transfer size in bytes", "email.size"),
    EventColumn("attachment_count", "INTEGER", "Number of email attachments", ""),
    EventColumn(
        "attachment_names", "VARCHAR", "Attachment file names joined by ';'", "email.files.name"
    ),
    EventColumn(
        "attachment_bytes", "BIGINT", "Sum of attachment sizes, when given", "email.files.size"
    ),
    EventColumn(
        "removable",
        "VARCHAR",
        "Removable-media direction of a file event: to, from, both, none; NULL when unknown",
        "",
    ),
    EventColumn("sender", "VARCHAR", "Email sender address", "email.from"),
    EventColumn("recipients_to", "VARCHAR", "Email To addresses joined by ';'", "email.to"),
    EventColumn("recipients_cc", "VARCHAR", "Email Cc addresses joined by ';'", "email.cc"),
    EventColumn("recipients_bcc", "VARCHAR", "Email Bcc addresses joined by ';'", ""),
    EventColumn("content", "VARCHAR", "Content keywords or text, when the source has them", ""),
    EventColumn("source_id", "INTEGER", "The `sources` row the event came from", ""),
    EventColumn("source_line", "BIGINT", "1-based physical line in that source", ""),
)

EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in EVENT_COLUMNS)

# OCSF class each channel maps onto (docs/events.md explains the mapping).
CHANNELS: dict[str, str] = {
    "logon": "Authentication (3002)",
    "device": "Peripheral Activity (1009)",  # removable-media connect / disconnect
    "file": "File System Activity (1001)",
    "email": "Email Activity (4009)",
    "http": "HTTP Activity (4002)",
    "print": "File System Activity (1001)",
}

# Normalized actions per channel; sources' verbs are lower-cased and stripped of
# their prefix ("File Open" -> "open", "WWW Upload" -> "upload").
ACTIONS: dict[str, tuple[str, ...]] = {
    "logon": ("logon", "logoff"),
    "device": ("connect", "disconnect"),
    "file": ("open", "write", "copy", "delete"),
    "email": ("send", "receive", "view"),
    "http": ("visit", "download", "upload"),
    "print": ("print",),
}
