"""The view's state as URL text: domain weights ↔ 'funding:0.5,projects:0.5,participation:0'."""

from __future__ import annotations

import math

from .index import DOMAINS, normalise_weights


def weights_to_param(weights: dict) -> str:
    """Domain weights → URL text 'funding:0.5,projects:0.5,participation:0'."""
    return ",".join(f"{d}:{_short(weights.get(d, 0.0))}" for d in DOMAINS)


def weights_from_param(text: str | None) -> dict | None:
    """URL text → domain weights; None (defaults) when absent or invalid."""
    if not text:
        return None
    out = {}
    try:
        for part in text.split(","):
            k, v = part.split(":")
            if k.strip() not in DOMAINS:
                return None
            x = float(v)
            if not math.isfinite(x) or x < 0:
                return None
            out[k.strip()] = x
        normalise_weights(out)
    except ValueError:
        return None
    return {d: out.get(d, 0.0) for d in DOMAINS}


def _short(x: float) -> str:
    return f"{float(x):.3f}".rstrip("0").rstrip(".") or "0"
