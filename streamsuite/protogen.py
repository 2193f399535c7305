"""Generates the Python code for `proto/` and checks that the committed code is current.

The generator is the `grpcio-tools` pinned in requirements-dev.txt, so the output is
reproducible byte for byte on any machine with the same pins.
"""
from __future__ import annotations

import filecmp
import tempfile
from pathlib import Path

from streamsuite.paths import proto_dir

PACKAGE_DIR = Path("streamsuite_proto") / "v1"


def _sources(root: Path) -> list[Path]:
    return sorted((root / PACKAGE_DIR).glob("*.proto"))


def generate(out_dir: Path, root: Path | None = None) -> list[Path]:
    """Compile every schema under `root` into `out_dir`; returns the generated files."""
    from grpc_tools import protoc

    root = root or proto_dir()
    sources = _sources(root)
    args = ["protoc", f"-I{root}", f"--python_out={out_dir}", f"--pyi_out={out_dir}"]
    args += [str(p.relative_to(root)) for p in sources]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {root}; run it by hand to see why")
    return sorted((out_dir / PACKAGE_DIR).glob("*_pb2.py*"))


def stale_files(root: Path | None = None) -> list[str]:
    """Names of generated files that differ from a fresh generation (empty when current)."""
    root = root or proto_dir()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp), root)
        stale = []
        for path in fresh:
            committed = root / PACKAGE_DIR / path.name
            if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                stale.append(str(PACKAGE_DIR / path.name))
        wanted = {p.name for p in fresh}
        stale += [str(PACKAGE_DIR / p.name) for p in (root / PACKAGE_DIR).glob("*_pb2.py*")
                  if p.name not in wanted]
        return stale
