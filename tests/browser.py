"""Headless Chromium for the browser tests: where it is and how it must be started."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = (
    "The browser tests need Chromium: install Debian's package with "
    "`apt-get install -y chromium` (or set CHROMIUM=/path/to/chromium), "
    "or set SKIP_BROWSER_TESTS=1 to skip them."
)
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
    """The Chromium binary; skip when SKIP_BROWSER_TESTS=1, else fail with how to install it."""
    if os.environ.get("SKIP_BROWSER_TESTS") == "1":
        pytest.skip("SKIP_BROWSER_TESTS=1")
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which(CHROMIUM)
    if found is None or not os.access(found, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found. {INSTALL_HINT}", pytrace=False)
    return found
