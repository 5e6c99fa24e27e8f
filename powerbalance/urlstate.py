"""The view's state as URL text: domain weights ↔ 'funding:0.5,projects:0.5,participation:0'."""

from __future__ import annotations

import math

from .index import DOMAINS, normalise_weights

#: Why URL weights text cannot be used (:func:`weights_fault`).
ALL_ZERO, UNREADABLE = "all_zero", "unreadable"


def weights_to_param(weights: dict) -> str:
    """Domain weights → URL text 'funding:0.5,projects:0.5,participation:0'."""
    return ",".join(f"{d}:{_short(weights.get(d, 0.0))}" for d in DOMAINS)


def weights_from_param(text: str | None) -> dict | None:
    """URL text → domain weights; None (defaults) when absent or invalid (:func:`weights_fault` says why)."""
    return _parse(text)[0]


def weights_fault(text: str | None) -> str | None:
    """Why URL weights text cannot be used: :data:`ALL_ZERO` (every weight 0) or :data:`UNREADABLE`
    (not 'domain:number,…' with known domains and finite non-negative numbers); None when it can,
    or when there is none."""
    return _parse(text)[1]


def _parse(text: str | None) -> tuple[dict | None, str | None]:
    if not text:
        return None, None
    out = {}
    try:
        for part in text.split(","):
            k, v = part.split(":")
            x = float(v)
            if k.strip() not in DOMAINS or not math.isfinite(x) or x < 0:
                return None, UNREADABLE
            out[k.strip()] = x
    except ValueError:
        return None, UNREADABLE
    try:
        normalise_weights(out)
    except ValueError:
        return None, ALL_ZERO
    return {d: out.get(d, 0.0) for d in DOMAINS}, None


def _short(x: float) -> str:
    return f"{float(x):.3f}".rstrip("0").rstrip(".") or "0"
