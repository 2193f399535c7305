"""Shared fixtures: the real local stack (Kafka, Redis, S3) for integration tests.

The stack is started once per test session if it is not up already, and stopped at the
end only if this session started it, so a developer's running stack is left alone.
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def stack():
    from streamsuite.stack import Stack, StackSettings

    stack = Stack(StackSettings.from_env(), say=lambda line: print(f"[stack] {line}", flush=True))
    already_up = all(state.startswith("running") for state in stack.status().values())
    stack.up()
    yield stack
    if not already_up:
        stack.down()


@pytest.fixture(scope="module")
def cluster(stack):
    """A Flink standalone cluster for `flink run` tests, stopped afterwards if this module started it."""
    from streamsuite.cluster import FlinkCluster

    cluster = FlinkCluster(stack.settings, say=lambda line: print(f"[cluster] {line}", flush=True))
    already_up = all(state.startswith("running") for state in cluster.status().values())
    cluster.up()
    yield cluster
    if not already_up:
        cluster.down()
