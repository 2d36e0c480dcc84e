"""Debian's Chromium, headless, for tests that look at a page (never a downloaded browser build)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# As root Chromium needs --no-sandbox; the rest keeps a test run off the network and quiet.
FLAGS = (
    "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--hide-scrollbars",
)  # fmt: skip


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _command(profile: Path) -> list[str]:
    binary = chromium_binary()
    if binary is None:
        raise RuntimeError("chromium is not installed (Debian package 'chromium')")
    root = ["--no-sandbox"] if os.geteuid() == 0 else []
    return [binary, *root, *FLAGS, f"--user-data-dir={profile}"]


def screenshot(url: str, out: Path, profile: Path, width: int = 1280, height: int = 1600) -> Path:
    """A PNG of the first `height` pixels of `url` at `width`, from a fresh profile."""
    cmd = [*_command(profile), f"--window-size={width},{height}", f"--screenshot={out}", url]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0 or not out.is_file():
        raise RuntimeError(f"chromium screenshot of {url} failed ({res.returncode}): {res.stderr[-2000:]}")
    return out


def dump_dom(url: str, profile: Path) -> str:
    """The DOM after Chromium parsed and laid out `url`."""
    res = subprocess.run([*_command(profile), "--dump-dom", url], capture_output=True, text=True, timeout=120,
                         check=False)  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"chromium --dump-dom {url} failed ({res.returncode}): {res.stderr[-2000:]}")
    return res.stdout
