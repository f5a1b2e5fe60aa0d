"""Headless Chromium for the browser tests: where it is and how it must be started."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# The same lookup `make test` runs before anything else, so both agree on which browser
# is used and on what to tell someone who has none.
FIND_CHROMIUM = Path(__file__).resolve().parent.parent / "devstack" / "bin" / "find-chromium"
# This machine's network is closed: without the background-networking flags
# Chromium keeps trying to reach Google's services.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def find_chromium() -> str:
    """The Chromium binary; skip when SKIP_BROWSER_TESTS=1, else fail saying how to install it."""
    if os.environ.get("SKIP_BROWSER_TESTS") == "1":
        pytest.skip("SKIP_BROWSER_TESTS=1")
    found = subprocess.run([FIND_CHROMIUM], capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        pytest.fail(found.stderr.strip() or "devstack/bin/find-chromium found no Chromium", pytrace=False)
    return found.stdout.strip()
