"""Resolve the identities native logs name (accounts, UPNs, SIDs, addresses) to people.

The directory is the identity map (`identities`, see `identity_map.py`) plus the LDAP
snapshots (`people`: user id and e-mail address). A parser hands over what the record says
in private fields next to the event: `_account` (as written: `DOMAIN\\name`, a UPN, an
e-mail address or a proxy user name), `_sid`, `_ip` (client address) and `_host` (the client
machine, where `host` is something else, as a print event's printer) or `host`. Order:

1. SID, then the account as written, as an e-mail address / UPN, and its bare name;
2. only when the record names nobody (a proxy request without a user name): the client IP
   address (longest matching range first), then the host name.

An entry counts on the event's UTC day between valid_from and valid_to (inclusive). A match
of kind service or machine is skipped like a built-in service account (and kept apart, under
the map's `person` for it: `account_events`). No match keeps the
log's own lower-cased account name (listed as unmapped by `molehunt status`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from molehunt.ingest.logs.common import Event, Skip
from molehunt.store import Store

_Entry = tuple[str, str, str, str]  # person, kind, valid_from ('' = always), valid_to ('' = open)
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class IdentityDirectory:
    """Identities -> people, by type; see the module docstring for the lookup order.

    Args:
        entries: identity type -> normalised identity -> entries (first valid one wins).
        networks: (network, entries), longest prefix first.
    """

    entries: dict[str, dict[str, list[_Entry]]] = field(default_factory=dict)
    networks: list[tuple[_Network, list[_Entry]]] = field(default_factory=list)
    _ip_cache: dict[str, list[_Entry]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, store: Store) -> IdentityDirectory:
        """Build the directory from the workspace's identity map and LDAP snapshots."""
        directory = cls()
        rows = store.query(
            "SELECT identity_type, identity, person, kind, coalesce(strftime(valid_from, "
            "'%Y-%m-%d'), ''), coalesce(strftime(valid_to, '%Y-%m-%d'), '') FROM identities "
            "ORDER BY source_line, identity_type, identity"
        )
        by_network: dict[str, list[_Entry]] = {}
        for identity_type, identity, person, kind, start, end in rows:
            entry = (str(person), str(kind), str(start), str(end))
            if identity_type == "ip":
                by_network.setdefault(str(identity), []).append(entry)
                continue
            directory.add(str(identity_type), str(identity), entry)
        people = store.query(
            "SELECT DISTINCT user_id, email FROM people ORDER BY user_id, email NULLS LAST"
        )
        for user_id, email in people:
            entry = (str(user_id), "person", "", "")
            directory.add("account", str(user_id).lower(), entry)
            if email:
                directory.add("email", str(email).lower(), entry)
        directory.networks = sorted(
            ((ipaddress.ip_network(text), entries) for text, entries in by_network.items()),
            key=lambda item: -item[0].prefixlen,
        )
        return directory

    def add(self, identity_type: str, identity: str, entry: _Entry) -> None:
        """Add one identity of one person (appended after those already known)."""
        self.entries.setdefault(identity_type, {}).setdefault(identity, []).append(entry)

    def is_empty(self) -> bool:
        """True when there is neither an identity map nor an LDAP snapshot."""
        return not self.entries and not self.networks

    def resolve(self, event: Event) -> Event | Skip:
        """Return the event with `user` set to the person it names, or a `Skip`.

        A record without a user whose address and host are unmapped is skipped with the
        parser's `_skip` reason.
        """
        day = (event.get("time") or "")[:10]
        found = None
        if event.get("user"):
            found = self._account(event, day)
        else:
            found = self._address(event, day)
        if found is None:
            if event.get("user"):
                return event
            return Skip(event.get("_skip") or "no user name")
        person, kind = found
        if kind != "person":  # counted as skipped, kept apart with the map's name for it
            reason = f"{kind} account '{person}' (identity map)"
            return Skip(reason, kind=kind, event={**event, "user": person})
        return {**event, "user": person}

    def _lookup(self, identity_type: str, key: str, day: str) -> tuple[str, str] | None:
        for person, kind, start, end in self.entries.get(identity_type, {}).get(key, ()):
            if (not start or start <= day) and (not end or day <= end):
                return person, kind
        return None

    def _account(self, event: Event, day: str) -> tuple[str, str] | None:
        sid = (event.get("_sid") or "").upper()
        if sid:
            found = self._lookup("sid", sid, day)
            if found:
                return found
        written = (event.get("_account") or event.get("user") or "").strip().lower()
        bare = written.rsplit("\\", 1)[-1]
        for identity_type, key in (
            ("account", written),
            ("email", bare),
            ("account", bare),
            ("account", bare.split("@", 1)[0]),
        ):
            found = self._lookup(identity_type, key, day)
            if found:
                return found
        return None

    def _address(self, event: Event, day: str) -> tuple[str, str] | None:
        address = (event.get("_ip") or "").strip()
        if address and self.networks:
            for person, kind, start, end in self._ip_entries(address):
                if (not start or start <= day) and (not end or day <= end):
                    return person, kind
        host = (event.get("_host") or event.get("host") or "").strip().lower()
        if host:
            return self._lookup("host", host, day) or self._lookup(
                "host", host.split(".", 1)[0], day
            )
        return None

    def _ip_entries(self, address: str) -> list[_Entry]:
        cached = self._ip_cache.get(address)
        if cached is not None:
            return cached
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            found: list[_Entry] = []
        else:
            found = [
                entry
                for network, entries in self.networks
                if ip.version == network.version and ip in network
                for entry in entries
            ]
        self._ip_cache[address] = found
        return found
