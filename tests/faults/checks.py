"""One verdict of a fault case: what was expected, what was seen."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    name: str
    expected: str
    seen: str
    ok: bool
