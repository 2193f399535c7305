"""Where the project keeps its run data and resolved jars.

Everything generated at run time lives under one git-ignored folder (`.run/`) so a
`stack down` plus `rm -rf .run` returns the checkout to a clean state.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def project_root() -> Path:
    """The checkout (or the image's app folder) that holds `deploy/pom.xml`."""
    override = os.environ.get("STREAMSUITE_HOME")
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "deploy" / "pom.xml").exists():
        return here
    return Path.cwd().resolve()


def run_dir() -> Path:
    return Path(os.environ.get("STREAMSUITE_RUN_DIR", project_root() / ".run")).resolve()


def jars_dir() -> Path:
    return Path(os.environ.get("STREAMSUITE_JARS_DIR", project_root() / ".jars")).resolve()


def proto_dir() -> Path:
    return project_root() / "proto"


def portable(text: str) -> str:
    """`text` with this checkout's absolute path written `<repo>`, and a run folder or Python
    outside it (another checkout's, e.g. a worktree's) `<run>` and `<python>`: for reports that
    are committed."""
    for path, name in ((run_dir(), "<run>"), (Path(sys.prefix), "<python>")):
        if not path.is_relative_to(project_root()):
            text = text.replace(str(path), name)
    return text.replace(str(project_root()), "<repo>")
