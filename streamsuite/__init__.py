"""Tooling around the streamsuite jobs: local service stack, generator, preflight, CLI."""
