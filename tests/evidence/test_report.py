"""report.html for the auditor: each claim's interval against its claim, the devices, the fingerprint, in
中文 and English; byte-identical when rendered again; self-contained; readable in Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from PIL import Image

from collector.evidence import bundle, signing
from collector.evidence.report import render
from collector.evidence.verify import verify_bundle
from collector.figures.compute import Parameters
from collector.figures.declared import load_declared
from collector.figures.window import parse_window
from collector.i18n import formats
from collector.migrate import migrate
from tests.chromium import chromium_binary, dump_dom, screenshot
from tests.kpi.helpers import copy_readings, register_device
from tests.kpi.synth import Plant, Regime

ROOT = Path(__file__).resolve().parents[2]
BASE = (dt.date(2026, 1, 5), 28)
REP = (dt.date(2026, 2, 2), 28)
AS_OF = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
CLAIMS = f"""\
periods:
  baseline: {{start: {BASE[0]}, end: {BASE[0] + dt.timedelta(days=BASE[1] - 1)}}}
  reporting: {{start: {REP[0]}, end: {REP[0] + dt.timedelta(days=REP[1] - 1)}}}
claims:
  - {{id: ud-real, title: Unplanned downtime -20 %, kpi: unplanned_downtime, scope: {{line: real}},
     change_pct: -20, confidence: 0.8, heartbeat_timeout_s: 1800, source: "enterprise tier 3-4"}}
  - {{id: y-sim, title: Yield +2 pp, kpi: quality, scope: {{line: sim}}, change_pp: 2,
     heartbeat_timeout_s: 1800, source: "industry tier 3-5"}}
"""


@pytest.fixture(scope="module")
def exported(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Two real devices with fewer stops in the reporting period, two simulated ones losing 40 % of
    their reporting days' state data; a bundle for February with a claim on each pair."""
    dsn = pg_server.create_database()
    migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for seed, (line, reporting, drop) in enumerate(
            (("real", Regime(stops_per_day=1.8), 0.0), ("sim", Regime(yield_=0.97), 0.4))
        ):
            plant = Plant(2, seed=7 + seed)
            plant.generate(BASE[0], BASE[1], Regime())
            plant.generate(REP[0], REP[1], reporting, drop_state_days=drop)
            for d in range(2):
                ids = register_device(conn, f"{line}-{d}", line=line)
                arrays = plant.arrays(d)
                pid = np.concatenate([np.full(len(t), ids[name]) for name, (t, _) in arrays.items()])
                copy_readings(conn, pid, np.concatenate([t for t, _ in arrays.values()]),
                              np.concatenate([v for _, v in arrays.values()]))  # fmt: skip
        conn.execute("UPDATE devices SET simulated = (line = 'sim')")
    tmp = tmp_path_factory.mktemp("report")
    claims = tmp / "claims.yaml"
    claims.write_text(CLAIMS)
    out = tmp / "bundle"
    bundle.export(
        dsn,
        Parameters(parse_window("2026-02", AS_OF), AS_OF),
        out,
        declared=load_declared(ROOT / "configs" / "declared.yaml"),
        claims_path=claims,
        key_path=tmp / "key.pem",
        now=AS_OF,
    )
    yield dsn, out


def _sections(html: str) -> dict[str, str]:
    """The two language sections of the page, by id."""
    starts = {lang: html.index(f"<div class='lang' id='{lang}'") for lang in ("zh", "en")}
    en, zh = html[starts["en"] : starts["zh"]], html[starts["zh"] :]
    return {"en": en, "zh": zh}


def _claim_block(section: str, lang: str, n: int) -> str:
    start = section.index(f"id='{lang}-claim-{n}'")
    end = section.find("</article>", start)
    return section[start:end]


def test_report_shows_claims_devices_and_fingerprint_in_both_languages(exported: tuple[str, Path]) -> None:
    dsn, out = exported
    html = (out / bundle.REPORT).read_text(encoding="utf-8")
    evidence = json.loads((out / bundle.EVIDENCE).read_text())
    fp = signing.fingerprint(signing.load_public((out / bundle.PUBKEY).read_bytes(), "pubkey.pem"))
    ud, y = evidence["claims"]["results"]
    assert ud["verdict"] == "verified" and ud["confidence"] == 0.8 and ud["simulated_devices"] == []
    assert y["verdict"] == "inconclusive" and y["simulated_devices"] == ["plant1/sim-0", "plant1/sim-1"]
    devices = list(csv.DictReader(io.StringIO((out / bundle.DEVICES).read_text())))
    assert len(devices) == 4
    for lang, page in _sections(html).items():
        assert fp in page and "plantproof evidence verify BUNDLE --pubkey trusted.pem" in page
        # each claim: its interval chart, the confidence it used (not a fixed 90 %), its verdict
        first, second = _claim_block(page, lang, 1), _claim_block(page, lang, 2)
        assert first.count('<svg role="img"') == 2 and second.count('<svg role="img"') == 2
        eighty = "80 % confidence interval" if lang == "en" else "80% 置信区间"
        assert eighty in first and "90 % confidence interval" not in first and "90% 置信区间" not in first
        verified, inconclusive = ("verified", "inconclusive") if lang == "en" else ("已证实", "无定论")
        assert f"<span class='badge verified'>{verified}</span>" in first
        assert f"<span class='badge inconclusive'>{inconclusive}</span>" in second
        # "simulated" on the claim computed from simulated devices, and only there
        sim = "simulated" if lang == "en" else "模拟"
        assert f"<span class='badge sim'>{sim}</span>" in second.split("</h3>")[0]
        assert "badge sim" not in first.split("</h3>")[0] and sim.upper() in second
        # coverage per device names the simulated devices' missing state data
        low = "with too little state data" if lang == "en" else "个状态数据覆盖不足"
        assert low in second and low not in first
        # the device table: every device of devices.csv, first / last seen in the page's format
        for row in devices:
            assert row["device"] in page
            assert formats.moment(row["first_seen"], lang) in page  # type: ignore[arg-type]
            assert formats.moment(row["last_seen"], lang) in page  # type: ignore[arg-type]
        # the guidelines' terms beside the English, sources by title with their file names
        terms = ["接入设备", "可管理设备", "工艺流程数据采集点", "月均调用次数", "非计划停工时间"]
        if lang == "en":
            assert "connected equipment (接入设备)" in page and "unplanned downtime (非计划停工时间)" in page
        assert all(term in page for term in terms)
        assert "000_bdb1f17e7eba8b28.txt" in page and "Industrial model and algorithm catalogue" in page
    assert "<html lang='zh-Hans'>" in html and "<div class='lang' id='en' lang='en'>" in html
    # self-contained: no script, no external stylesheet, image or link; every href is in-page
    assert "<script" not in html and "<link" not in html and " src=" not in html and "@import" not in html
    assert set(re.findall(r"href=[\"'](.)", html)) == {"#"}
    checked = verify_bundle(out, recompute_dsn=dsn)
    assert checked.ok and checked.recomputed, checked.problems


def test_rendered_again_in_other_processes_it_is_the_same_bytes(exported: tuple[str, Path]) -> None:
    _dsn, out = exported
    pages = []
    for seed in ("1", "2"):
        page = out.parent / f"again-{seed}.html"
        res = subprocess.run(
            [sys.executable, "-m", "plantproof", "evidence", "render", str(out), "--out", str(page)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed}, check=False,
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        assert "identical" in res.stdout
        pages.append(page.read_bytes())
    assert pages[0] == pages[1] == (out / bundle.REPORT).read_bytes()

    altered = out.parent / "altered"
    altered.mkdir()
    for f in out.iterdir():
        (altered / f.name).write_bytes(f.read_bytes())
    report = altered / bundle.REPORT
    report.write_bytes(report.read_bytes().replace(b"-20 %", b"-30 %", 1))
    res = subprocess.run(
        [sys.executable, "-m", "plantproof", "evidence", "render", str(altered)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 1 and "differs" in res.stdout, res.stdout + res.stderr


def test_nothing_to_show_says_why(exported: tuple[str, Path]) -> None:
    _dsn, out = exported
    ev = json.loads((out / bundle.EVIDENCE).read_text())
    assert ev["figures"]["breakdown_by_industry"]  # the two real devices
    ev["claims"] = {"included": False, "file": None, "results": []}
    # as if only the simulated devices had been counted: nothing real to break down by industry
    ev["figures"]["breakdown_by_industry"] = ev["figures"]["breakdown_by_sector"] = {}
    ev["figures"]["connected_equipment"]["default"]["value"] = 0
    sections = _sections(render(ev, None))
    en, zh = sections["en"], sections["zh"]
    assert "No claims are included in this bundle" in en and "本证据包未包含任何声明" in zh
    assert (
        en.count("Nothing to break down: no non-simulated device was counted in the window (2 simulated") == 2
    )
    assert zh.count("没有可分解的内容：窗口内没有非模拟设备计入（2 台模拟设备") == 2
    assert (
        "(unknown: the bundle has no pubkey.pem)" in en and "<th scope='col'>industry (GB/T 4754)" not in en
    )


@pytest.mark.skipif(chromium_binary() is None, reason="Debian's chromium is not installed")
def test_chromium_renders_both_languages(exported: tuple[str, Path], tmp_path: Path) -> None:
    _dsn, out = exported
    url = (out / bundle.REPORT).resolve().as_uri()
    shots = {
        lang: screenshot(f"{url}#{lang}", tmp_path / f"{lang}.png", tmp_path / lang) for lang in ("zh", "en")
    }
    pixels = {}
    for lang, path in shots.items():
        image = Image.open(path).convert("L")
        assert image.size == (1280, 1600)
        arr = np.asarray(image)
        assert arr.std() > 10, f"{lang}: the screenshot is blank"
        pixels[lang] = arr
    # the :target switch shows one language at a time: the two first screens differ
    assert (pixels["zh"] != pixels["en"]).mean() > 0.01
    dom = dump_dom(url, tmp_path / "dom")
    assert dom.count('<svg role="img"') == (out / bundle.REPORT).read_text().count('<svg role="img"') > 0
