"""The evidence ledger: an append-only, signed Merkle log over what molehunt stored and computed.

Sits beside `store` (it reads and writes workspace tables through `Store` only); ingest, score
and trace record into it, and `molehunt ledger` verifies and proves.
"""

from __future__ import annotations

from molehunt.ledger.evidence import (
    record_account_rows,
    record_analyst_actions,
    record_batches,
    record_ingested,
    record_marked_copies,
    record_score_days,
)
from molehunt.ledger.log import (
    export_checkpoints,
    prove_consistency,
    prove_inclusion,
    read_entries,
)
from molehunt.ledger.verify import LedgerProblem, VerifyReport, verify_ledger

__all__ = [
    "LedgerProblem",
    "VerifyReport",
    "export_checkpoints",
    "prove_consistency",
    "prove_inclusion",
    "read_entries",
    "record_account_rows",
    "record_analyst_actions",
    "record_batches",
    "record_ingested",
    "record_marked_copies",
    "record_score_days",
    "verify_ledger",
]
