"""Every adapter documents every option: a README and a sample config that names each field of its
endpoint model, and the sample is a valid gateway config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters import registry
from gateway.config import load_config

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"


@pytest.mark.parametrize("protocol", registry.protocols())
def test_sample_names_every_endpoint_option_and_validates(protocol: str) -> None:
    folder = ADAPTERS / protocol
    sample, readme = folder / "sample.yaml", folder / "README.md"
    assert sample.is_file() and readme.is_file(), f"adapter {protocol} needs sample.yaml and README.md"
    fields = set(registry.get(protocol).endpoint_model.model_fields)
    cfg = load_config(sample)  # the sample itself is a valid gateway config
    devices = [d for d in cfg.devices if d.protocol == protocol]
    assert devices
    used = {key for d in yaml.safe_load(sample.read_text())["devices"] for key in d.get("endpoint", {})}
    assert fields - used == set(), f"{sample.name} lacks {sorted(fields - used)}"
    text = readme.read_text()
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert missing == [], f"{readme} does not document {missing}"
    for device in devices:
        device.instance()  # every endpoint builds
