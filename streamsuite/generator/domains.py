"""The domains the generator knows, one per job (`jobs.specs`), in the order of their foreign-message poison."""
from __future__ import annotations

from streamsuite.generator.base import DomainGenerator
from streamsuite.generator.fraud import FraudGenerator
from streamsuite.generator.inventory import InventoryGenerator
from streamsuite.generator.maintenance import MaintenanceGenerator

GENERATORS: dict[str, type[DomainGenerator]] = {
    "fraud": FraudGenerator,
    "inventory": InventoryGenerator,
    "maintenance": MaintenanceGenerator,
}


def foreign_domain(domain: str) -> str:
    """The domain whose valid events are the foreign-message poison of `domain`: the next one."""
    names = list(GENERATORS)
    return names[(names.index(domain) + 1) % len(names)]
