"""Which leaver took this? Sealed leaver records that list a marked document or its copies."""

from __future__ import annotations

import json
from typing import Any

from molehunt.store import Store


def leavers_holding(store: Store, doc_id: str) -> list[dict[str, Any]]:
    """Sealed leaver records that list a marked document: "which leaver took this?".

    A record's document matches by file name (the original's or any issued copy's) or by the
    registry content hash.

    Args:
        store: The workspace.
        doc_id: The marked document.

    Returns:
        user, last_day, the matching document entry's name, level, days and channels, per record.
    """
    if "leaver_records" not in {row[0] for row in store.query("SHOW TABLES")}:
        return []
    names = {
        str(row[0]).lower()
        for row in store.query(
            "SELECT name FROM marked_documents WHERE doc_id = ? UNION "
            "SELECT regexp_extract(file_name, '[^\\\\/]+$') FROM marked_copies WHERE doc_id = ?",
            [doc_id, doc_id],
        )
    }
    hashes = {
        str(row[0])
        for row in store.query("SELECT sha256 FROM marked_documents WHERE doc_id = ?", [doc_id])
    }
    found = []
    for user, last_day, summary in store.query(
        "SELECT user_id, CAST(last_day AS VARCHAR), summary_json FROM leaver_records ORDER BY ALL"
    ):
        for entry in json.loads(summary).get("documents", []):
            if str(entry.get("name", "")).lower() in names or entry.get("registry_hash") in hashes:
                found.append(
                    {
                        "user": user,
                        "last_day": last_day,
                        "document": entry.get("name"),
                        "level": entry.get("level"),
                        "days": entry.get("days", []),
                        "channels": entry.get("channels", []),
                    }
                )
    return found
