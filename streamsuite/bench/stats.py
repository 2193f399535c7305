"""Percentiles, distributions and spreads over rounds, and numbers for report lines."""
from __future__ import annotations

import math
import statistics
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def dist(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "p999": percentile(values, 99.9), "max": max(values),
            "mean": statistics.fmean(values)}


def spread(values: list[float | None]) -> dict[str, Any]:
    vs = [v for v in values if v is not None]
    if not vs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "n": len(vs)}


def formatted(value, pattern: str = "{:,.0f}") -> str:
    """A number for a report line, "-" when it was not measured."""
    return "-" if value is None else pattern.format(value)
