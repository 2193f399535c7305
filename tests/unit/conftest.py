"""Fixtures of the deployment tests: the manifests, rendered once per session."""
from __future__ import annotations

import pytest

from tests.deploy_helpers import K8S, OVERLAYS, render


@pytest.fixture(scope="session")
def base() -> list[dict]:
    return render(K8S / "base")


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[dict]]:
    return {name: render(K8S / "overlays" / name) for name in OVERLAYS}
