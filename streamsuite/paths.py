"""Paths of the dev tooling beyond the jobs' own (`jobs.paths`): the proto sources, and
committed reports that must not name this machine's folders."""
from __future__ import annotations

import sys
from pathlib import Path

from jobs.paths import project_root, run_dir


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
