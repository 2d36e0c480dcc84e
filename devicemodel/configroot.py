"""Where the shipped configuration (configs/: devices, plants, claims, ...) lives.

`PLANTPROOF_CONFIG_ROOT` if set; else the source tree's `configs/` when running from a checkout;
else /etc/plantproof/configs, where the container image and the packages install it (an installed
wheel carries no configs of its own).
"""

import os
from pathlib import Path

ENV = "PLANTPROOF_CONFIG_ROOT"
INSTALLED = Path("/etc/plantproof/configs")
_SOURCE_TREE = Path(__file__).resolve().parent.parent / "configs"


def config_root() -> Path:
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    if _SOURCE_TREE.is_dir():
        return _SOURCE_TREE
    return INSTALLED
