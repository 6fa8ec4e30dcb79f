"""RFC 6962 / RFC 9162 Merkle tree hashes, inclusion proofs and consistency proofs.

    leaf hash   = SHA-256(0x00 || entry bytes)
    node hash   = SHA-256(0x01 || left || right)
    MTH([])     = SHA-256("")
    MTH([d])    = leaf hash of d
    MTH(D[n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

The proof algorithms are RFC 9162 sections 2.1.3 (inclusion) and 2.1.4 (consistency), so a
third party can check molehunt's proofs with any Certificate Transparency or C2SP tlog library.
Functions take the list of leaf hashes (not the entries), which is what the ledger stores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of one leaf.

    Args:
        data: The entry's bytes.

    Returns:
        SHA-256(0x00 || data).

    Examples:
        >>> leaf_hash(b"").hex()[:16]
        '6e340b9cffb37a98'
    """
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of the given leaf hashes.

    Args:
        leaves: Leaf hashes, in log order.

    Returns:
        The 32-byte root (SHA-256 of nothing for an empty tree).
    """
    if not leaves:
        return EMPTY_ROOT
    # Bottom-up: pairing left to right and promoting a lone last node gives exactly RFC 6962's
    # split at the largest power of two, without recursion.
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Return the audit path of leaf `index` in the tree of `leaves` (RFC 9162 2.1.3.1).

    Args:
        index: 0-based leaf index, below len(leaves).
        leaves: Leaf hashes of the tree.

    Returns:
        The sibling hashes from the leaf up to the root.

    Raises:
        ValueError: `index` is outside the tree.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is outside a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), tree_root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), tree_root(leaves[:k])]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from a leaf hash and its audit path (RFC 9162 2.1.3.2).

    Args:
        index: 0-based leaf index.
        size: Tree size the proof is for.
        leaf: The leaf hash.
        proof: The audit path.

    Returns:
        The root the proof leads to; compare it with a signed checkpoint's root.

    Raises:
        ValueError: The proof has the wrong length for (index, size).
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is outside a tree of {size}")
    fn, sn, node = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ValueError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("inclusion proof is too short")
    return node


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Return the proof that the first `old_size` leaves are a prefix (RFC 9162 2.1.4.1).

    Args:
        old_size: Size of the older tree, 0 < old_size <= len(leaves).
        leaves: Leaf hashes of the newer tree.

    Returns:
        The proof hashes (empty when the sizes are equal).

    Raises:
        ValueError: `old_size` is out of range.
    """
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"old size {old_size} is outside 1..{len(leaves)}")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [tree_root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), tree_root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), tree_root(leaves[:k])]


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof between two tree heads (RFC 9162 2.1.4.2).

    Args:
        old_size: Size of the older tree.
        new_size: Size of the newer tree.
        old_root: Root of the older tree.
        new_root: Root of the newer tree.
        proof: The proof from `consistency_proof`.

    Returns:
        True when the newer tree extends the older one unchanged.
    """
    if old_size == new_size:
        return not proof and old_root == new_root
    if not 0 < old_size < new_size:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
