"""A SoftHSM2 token in a directory of its own, for the benchmarks and the tests (SoftHSM2
is Debian's ``softhsm2``: a PKCS#11 module in software). Imports nothing of Django."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin: str


def installed() -> tuple[str, str] | None:
    """(the module's path, softhsm2-util's path), or None when SoftHSM2 is missing."""
    module = next((m for m in MODULES if Path(m).exists()), None)
    util = shutil.which("softhsm2-util")
    return (module, util) if module is not None and util is not None else None


def make_token(root: Path, label: str, pin: str) -> SoftToken:
    """Initialise a token under ``root`` and point this process's SoftHSM2 at it
    (``SOFTHSM2_CONF``, read once, when the library is first loaded)."""
    found = installed()
    if found is None:
        raise FileNotFoundError("SoftHSM2 is not installed (apt-get install softhsm2)")
    module, util = found
    (root / "tokens").mkdir(parents=True, exist_ok=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(  # noqa: S603 (Debian's softhsm2-util, fixed arguments)
        [util, "--init-token", "--free", "--label", label, "--so-pin", "so-" + pin, "--pin", pin],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return SoftToken(module=module, label=label, pin=pin)
