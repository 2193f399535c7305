"""Our job's throughput at two or more commits, interleaved round by round, as ratios to the first.

    python benchmarks/ab_commits.py REV [REV ...] [--rounds 2] [--events 80000] [--out FILE]

For finding what a change costs: each REV is checked out in a git worktree of its own (under
`.run/ab/`), and each round runs `streamsuite bench fraud --arms ours --latency-seconds 0` once
per REV, in rotating order, on the shared local stack, with the jars built from that REV
(`streamsuite jars`, into the worktree's `.jars`). The worktree's
code comes first on PYTHONPATH, for the job and for its TaskManager's embedded Python (the
editable install would otherwise hand both this checkout's modules). The report gives events/s
per REV and round and the median ratio to the first REV.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.paths import run_dir  # noqa: E402
from streamsuite.paths import portable  # noqa: E402


def worktree(rev: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    path = run_dir() / "ab" / sha
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=ROOT, check=True,
                       capture_output=True)
    return path


def environment(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'proto'}", "STREAMSUITE_HOME": str(tree),
            "STREAMSUITE_JARS_DIR": str(tree / ".jars"), "STREAMSUITE_RUN_DIR": str(run_dir())}


def build_jars(tree: Path) -> None:
    """The REV's own jars: its Python wrappers call the constructors of its own Java sink."""
    if not (tree / ".jars" / "flink" / "lib").exists():
        subprocess.run([sys.executable, "-m", "streamsuite", "jars"], cwd=tree, env=environment(tree), check=True,
                       capture_output=True, timeout=900)


def throughput(tree: Path, events: int, out: Path) -> float | None:
    env = environment(tree)
    subprocess.run([sys.executable, "-m", "streamsuite", "bench", "fraud", "--rounds", "1", "--arms", "ours",
                    "--latency-seconds", "0", "--events", str(events), "--no-plot", "--quiet", "--out", str(out)],
                   cwd=tree, env=env, timeout=900, capture_output=True)
    try:
        report = json.loads(next(out.glob("fraud-*.json")).read_text())
        return report["summary"]["ours"]["throughput_eps"]["median"]
    except (StopIteration, KeyError, ValueError, OSError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="+")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--events", type=int, default=80_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ab.md")
    args = parser.parse_args(argv)
    trees = {rev: worktree(rev) for rev in args.revs}
    for tree in trees.values():
        build_jars(tree)
    eps: dict[str, list[float | None]] = {rev: [] for rev in args.revs}
    for round_no in range(args.rounds):
        order = args.revs[round_no % len(args.revs):] + args.revs[:round_no % len(args.revs)]
        for rev in order:
            folder = run_dir() / "ab" / "results" / f"{rev.replace('/', '_')}-{round_no}"
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("fraud-*"):
                old.unlink()
            eps[rev].append(throughput(trees[rev], args.events, folder))
            print(f"round {round_no + 1} {rev}: {eps[rev][-1]}", flush=True)
    base = args.revs[0]
    lines = ["# Throughput by commit, side by side", "",
             f"Command: `python benchmarks/ab_commits.py {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             "| commit | events/s per round | median ratio to " + base + " |", "|---|---|---|"]
    for rev in args.revs:
        ratios = [e / b for e, b in zip(eps[rev], eps[base]) if e and b]
        lines.append(f"| {rev} | {', '.join(f'{e:,.0f}' if e else 'failed' for e in eps[rev])} | "
                     f"{statistics.median(ratios):.2f} |" if ratios else f"| {rev} | failed | - |")
    args.out.write_text(portable("\n".join(lines) + "\n"))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
