"""The shipped configuration's root: the environment wins, then the source tree, then /etc."""

from __future__ import annotations

from pathlib import Path

import pytest

from devicemodel import configroot

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_reads_its_own_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(configroot.ENV, raising=False)
    assert configroot.config_root() == ROOT / "configs"


def test_the_environment_names_another_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(configroot.ENV, str(tmp_path))
    assert configroot.config_root() == tmp_path


def test_an_installed_package_reads_etc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(configroot.ENV, raising=False)
    monkeypatch.setattr(configroot, "_SOURCE_TREE", tmp_path / "no-configs-here")
    assert configroot.config_root() == Path("/etc/plantproof/configs")
