"""AS9-USE-2: the audit log's Merkle tree (RFC 9162 2.1) and the independent verifier.

Three sources of truth, so that one mistake cannot hide behind itself: the RFC's
recursive definitions written out naively here, the known answers of RFC 6962's test
leaves (as published by transparency-dev/merkle), and transparency-dev's verification
vectors (tests/audit/vectors, Apache-2.0) run through ``audit_verify``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import audit_verify
from audit import log, merkle

VECTORS = json.loads((Path(__file__).parent / "vectors" / "transparency_dev.json").read_text())

# RFC 6962's test leaves and the roots of their prefixes (transparency-dev/merkle testonly).
LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")
    + ("606162636465666768696a6b6c6d6e6f",)
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


# --- RFC 9162 2.1, written out as the RFC states it -------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = 1
    while k * 2 < len(d):
        k *= 2
    return _h(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return rfc_path(m, d[:k]) + [rfc_mth(d[k:])]
    return rfc_path(m - k, d[k:]) + [rfc_mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [rfc_mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return rfc_subproof(m, d[:k], b) + [rfc_mth(d[k:])]
    return rfc_subproof(m - k, d[k:], False) + [rfc_mth(d[:k])]


# --- the log's way: perfect subtrees stored as they complete ---------------------------


def _grow(leaves: list[bytes]) -> tuple[merkle.Frontier, dict[merkle.Node, bytes]]:
    frontier = merkle.Frontier()
    stored: dict[merkle.Node, bytes] = {}
    for index, leaf in enumerate(leaves):
        hashed = merkle.leaf_hash(leaf)
        stored[(0, index)] = hashed
        completed: list[tuple[int, int, bytes]] = []
        frontier.append(hashed, completed)
        stored.update({(level, idx): h for level, idx, h in completed})
    return frontier, stored


def _leaves(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(n)]


def test_the_roots_of_rfc_6962s_test_leaves():
    for size, expected in enumerate(ROOTS):
        frontier, stored = _grow(LEAVES[:size])
        assert frontier.root().hex() == expected
        assert rfc_mth(LEAVES[:size]).hex() == expected
        whole = merkle.range_hashes([(0, size)], stored)[0] if size else merkle.EMPTY_ROOT
        assert whole.hex() == expected


def test_proofs_from_stored_subtrees_equal_the_rfcs_definitions_for_every_small_tree():
    leaves = _leaves(70)
    frontier, stored = _grow(leaves)
    for n in range(1, 71):
        for m in range(n):
            expected = rfc_path(m, leaves[:n])
            assert merkle.range_hashes(merkle.inclusion_ranges(m, n), stored) == expected, (m, n)
        for m in range(1, n + 1):
            expected = rfc_subproof(m, leaves[:n], True)
            got = merkle.range_hashes(merkle.consistency_ranges(m, n), stored)
            assert got == expected, (m, n)


def test_every_generated_proof_passes_the_independent_verifier():
    leaves = _leaves(40)
    _, stored = _grow(leaves)
    roots = [rfc_mth(leaves[:n]) for n in range(41)]
    for n in range(1, 41):
        for m in range(n):
            path = merkle.range_hashes(merkle.inclusion_ranges(m, n), stored)
            audit_verify.verify_inclusion(m, n, stored[(0, m)], path, roots[n])
        for m in range(1, n + 1):
            proof = merkle.range_hashes(merkle.consistency_ranges(m, n), stored)
            audit_verify.verify_consistency(m, n, roots[m], roots[n], proof)


@given(
    n=st.integers(min_value=2, max_value=64),
    data=st.data(),
)
def test_a_changed_leaf_or_proof_hash_is_refused(n, data):
    leaves = _leaves(n)
    _, stored = _grow(leaves)
    m = data.draw(st.integers(min_value=1, max_value=n - 1))
    root_m, root_n = rfc_mth(leaves[:m]), rfc_mth(leaves[:n])
    proof = merkle.range_hashes(merkle.consistency_ranges(m, n), stored)
    flip = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    broken = list(proof)
    broken[flip] = bytes([broken[flip][0] ^ 1]) + broken[flip][1:]
    with pytest.raises(audit_verify.VerificationError):
        audit_verify.verify_consistency(m, n, root_m, root_n, broken)
    # a history rewritten before m: the later root no longer extends the earlier one
    forged = list(leaves)
    forged[data.draw(st.integers(min_value=0, max_value=m - 1))] = b"forged"
    _, forged_stored = _grow(forged)
    forged_proof = merkle.range_hashes(merkle.consistency_ranges(m, n), forged_stored)
    with pytest.raises(audit_verify.VerificationError):
        audit_verify.verify_consistency(m, n, root_m, rfc_mth(forged), forged_proof)


def _b64(values):
    return [base64.b64decode(v) for v in values or []]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: c["file"])
def test_transparency_dev_inclusion_vectors(case):
    def check():
        audit_verify.verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            base64.b64decode(case["leafHash"]),
            _b64(case["proof"]),
            base64.b64decode(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(audit_verify.VerificationError):
            check()
    else:
        check()


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: c["file"])
def test_transparency_dev_consistency_vectors(case):
    def check():
        audit_verify.verify_consistency(
            case["size1"],
            case["size2"],
            base64.b64decode(case["root1"]),
            base64.b64decode(case["root2"]),
            _b64(case["proof"]),
        )

    if case["wantErr"]:
        with pytest.raises(audit_verify.VerificationError):
            check()
    else:
        check()


def test_the_vectors_are_all_there():
    assert len(VECTORS["inclusion"]) >= 90
    assert len(VECTORS["consistency"]) >= 90
    assert sum(not c["wantErr"] for c in VECTORS["consistency"]) >= 5


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON)
def test_the_leaf_encoder_writes_the_canonical_json_bytes(value):
    """The encoder made once for speed writes exactly what the canonical encoder
    (sorted keys, no spaces, UTF-8 as is) writes, for any record: every leaf of every
    existing log still hashes the same."""
    canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert log._dumps(value) == canonical.encode(value)
