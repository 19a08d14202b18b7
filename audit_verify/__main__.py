"""python -m audit_verify: check saved tree heads and proofs offline.

    python -m audit_verify --key KEY --head later.json
        the head is signed by this key
    python -m audit_verify --key KEY --head later.json --earlier earlier.json \\
        --consistency proof.json
        the later log extends the earlier one unchanged
    python -m audit_verify --key KEY --head later.json --inclusion proof.json [--leaf F]
        the proof's event is in the later log (with --leaf: and these are its bytes)

KEY is the base64 text ``manage.py audit_public_key`` printed, or a file holding it.
Every JSON file is a body saved as the API returned it. Exit 0 when every check holds,
1 when one fails (the reason is printed), 2 for unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from audit_verify import (
    VerificationError,
    check_consistency,
    check_inclusion,
    public_key_from,
    verify_tree_head,
)


def _json(path: str) -> dict[str, Any]:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise SystemExit(f"{path} does not hold a JSON object")
    return value


def _key_text(value: str) -> str:
    path = Path(value)
    return path.read_text(encoding="ascii") if path.is_file() else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m audit_verify",
        description="Check Haven audit-log tree heads and proofs with the public key only.",
    )
    parser.add_argument("--key", required=True, help="public key (base64) or a file with it")
    parser.add_argument("--head", required=True, help="a signed tree head (JSON)")
    parser.add_argument("--earlier", help="an earlier signed tree head (JSON)")
    parser.add_argument("--consistency", help="consistency proof from --earlier to --head")
    parser.add_argument("--inclusion", action="append", default=[], help="inclusion proof")
    parser.add_argument("--leaf", help="the leaf bytes of the (single) --inclusion proof")
    args = parser.parse_args(argv)
    if bool(args.earlier) != bool(args.consistency):
        parser.error("--earlier and --consistency go together")
    if args.leaf and len(args.inclusion) != 1:
        parser.error("--leaf goes with exactly one --inclusion")
    try:
        key = public_key_from(_key_text(args.key))
        head = _json(args.head)
        size, root = verify_tree_head(head, key)
        print(f"ok: tree head of size {size} (root {root.hex()}) is signed by this key")
        if args.earlier:
            earlier = _json(args.earlier)
            check_consistency(earlier, head, _json(args.consistency), key)
            print(f"ok: the log of size {size} extends the log of size {earlier['size']}")
        for path in args.inclusion:
            leaf = Path(args.leaf).read_bytes() if args.leaf else None
            index = check_inclusion(head, _json(path), key, leaf)
            print(f"ok: leaf {index} is in the log of size {size}")
    except VerificationError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
