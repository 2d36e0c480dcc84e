"""Deterministic noise and register quantisation (pure numpy).

Noise is a hash of (key, timestamp), not a stream of draws, so a value depends only on the time it
is asked for: a live server polled at any rate and a backfill sampled on a grid agree exactly.
"""

# layering: pure

import zlib

import numpy as np

from devicemodel.devicetype import PointSpec

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_INT_RANGE = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def key_of(*parts: object) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode()) | (zlib.adler32(str(parts).encode()) << 32)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def gaussian(key: int, t_ns: np.ndarray) -> np.ndarray:
    """Standard normal values, a pure function of (key, t)."""
    with np.errstate(over="ignore"):
        base = t_ns.astype(np.int64).view(np.uint64) ^ np.uint64(key & 0xFFFFFFFFFFFFFFFF)
        a = _mix(base + _GOLD)
        b = _mix(base + _GOLD + _GOLD)
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 1.0) / 9007199254740993.0
    u2 = (b >> np.uint64(11)).astype(np.float64) / 9007199254740992.0
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def quantize(spec: PointSpec, values: np.ndarray) -> np.ndarray:
    """Engineering values as the point's register would hold them (raw rounded to its dtype)."""
    if spec.dtype == "float32":
        raw = ((values - spec.offset) / spec.scale).astype(np.float32).astype(np.float64)
        return raw * spec.scale + spec.offset
    if spec.dtype in _INT_RANGE:
        low, high = _INT_RANGE[spec.dtype]
        raw = np.clip(np.round((values - spec.offset) / spec.scale), low, high)
        return raw * spec.scale + spec.offset
    return values


def wrap_raw(spec: PointSpec, raw: np.ndarray) -> np.ndarray:
    """Integer raw counts (int64) wrapped like the register; engineering values."""
    bits = {"uint16": 16, "uint32": 32}.get(spec.dtype)
    if bits is not None:
        raw = raw % (1 << bits)
    if spec.dtype == "float32":
        return (raw.astype(np.float32).astype(np.float64)) * spec.scale + spec.offset
    return raw.astype(np.float64) * spec.scale + spec.offset
