"""The Merkle tree follows RFC 6962: proofs from molehunt check with the RFC's algorithms."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from molehunt.ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    tree_root,
    verify_consistency,
)


def _definition_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_definition_root(leaves[:k]), _definition_root(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_hashes_use_the_rfc6962_domain_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert tree_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_inclusion_proof_of_any_leaf_reaches_the_root(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    root = tree_root(leaves)
    assert root == _definition_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(index, leaves)
    assert root_from_inclusion(index, n, leaves[index], proof) == root
    # the proof of one leaf does not prove another leaf's content
    assert root_from_inclusion(index, n, leaf_hash(b"forged"), proof) != root
    if proof:
        bent = [*proof[:-1], bytes(32)]
        assert root_from_inclusion(index, n, leaves[index], bent) != root


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_consistency_proof_holds_for_prefixes_and_fails_for_rewrites(
    n: int, data: st.DataObject
) -> None:
    leaves = _leaves(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = consistency_proof(m, leaves)
    old_root, new_root = tree_root(leaves[:m]), tree_root(leaves)
    assert verify_consistency(m, n, old_root, new_root, proof)
    # an older tree whose history was changed is not consistent with the new one
    changed = data.draw(st.integers(min_value=0, max_value=m - 1))
    rewritten = [*leaves[:changed], leaf_hash(b"rewritten"), *leaves[changed + 1 : m]]
    assert not verify_consistency(m, n, tree_root(rewritten), new_root, proof)
    if m < n:
        assert not verify_consistency(m, n, old_root, leaf_hash(b"other"), proof)
