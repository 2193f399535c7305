"""`streamsuite report fraud`: how good the scoring is, as Markdown and a PNG an analyst can read.

The fraud job's cold `scores` table (every scored transaction, with its rule-set version and the
shadow rule set's score) is joined in DuckDB with the generator's ground truth (`labels`:
transaction id -> pattern; absent = legitimate). Precision, recall and alert rate come per
rule-set version (the shadow versions too), per labelled pattern, and for every threshold.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_PRECISION = 0.9
TARGET_RECALL = 0.8
THRESHOLDS = tuple(round(i * 0.05, 2) for i in range(1, 21))
BUCKET = 0.05
# The score's signals that stand for a labelled pattern when they are an alert's strongest reason
# (a pattern not listed is its own signal's name).
PATTERN_SIGNALS = {"velocity": ("velocity_1m", "velocity_1h"), "account_takeover": ("new_country",)}


class ReportError(Exception):
    """Input the report cannot use; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", choices=("fraud",))
    parser.add_argument("--scores", required=True,
                        help="the cold scores table: bucket/prefix/scores on the stack's S3 (e.g. "
                             "streamsuite-cold/demo/<run>/scores) or a local folder of Parquet")
    parser.add_argument("--truth", required=True, type=Path,
                        help="the generator's ground truth JSON (streamsuite generate writes it)")
    parser.add_argument("--out", type=Path, help="folder for fraud-report.md and fraud-report.png "
                                                 "(default .run/reports/fraud-<time>)")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Quality:
    transactions: int
    frauds: int
    # rows of (label, transactions, frauds, alerts, true positives)
    by_version: list
    by_shadow_version: list
    # rows of (pattern, transactions, alerted, alerts naming it first, of those labelled fraud)
    by_pattern: list
    # rows of (threshold, alerts, true positives)
    curve: list
    # rows of (bucket start, legitimate, fraud)
    histogram: list

    def decisions(self) -> tuple[int, int]:
        """(alerts, true positives) of the job's own decisions over every version."""
        return sum(r[3] for r in self.by_version), sum(r[4] for r in self.by_version)

    def target_met(self) -> bool:
        alerts, tp = self.decisions()
        precision, recall = _rate(tp, alerts), _rate(tp, self.frauds)
        return precision is not None and recall is not None and precision >= TARGET_PRECISION \
            and recall >= TARGET_RECALL

    def thresholds_meeting_target(self) -> list[float]:
        return [t for t, alerts, tp in self.curve
                if alerts and self.frauds and tp / alerts >= TARGET_PRECISION and tp / self.frauds >= TARGET_RECALL]


def measure(scores, labels: dict[str, str]) -> Quality:
    """The report's numbers, from a pyarrow table of cold score rows and the labels."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    label_table = pa.table({"transaction_id": list(labels), "pattern": list(labels.values())})
    con.register("scores_table", scores)
    con.register("labels_table", label_table)
    patterns = sorted(set(labels.values()))
    con.register("pattern_signals", pa.table({
        "pattern": [p for p in patterns for _ in PATTERN_SIGNALS.get(p, (p,))],
        "signal": [s for p in patterns for s in PATTERN_SIGNALS.get(p, (p,))]}))
    con.execute("""CREATE VIEW s AS SELECT s.*, l.pattern, l.pattern IS NOT NULL AS fraud
                   FROM scores_table s LEFT JOIN labels_table l USING (transaction_id)""")
    transactions, frauds = con.execute("SELECT count(*), count(*) FILTER (fraud) FROM s").fetchone()
    by_version = con.execute("""
        SELECT 'version ' || rules_version, count(*), count(*) FILTER (fraud), count(*) FILTER (alert),
               count(*) FILTER (alert AND fraud)
        FROM s GROUP BY rules_version ORDER BY rules_version""").fetchall()
    by_shadow = con.execute("""
        SELECT 'shadow version ' || shadow_rules_version, count(*), count(*) FILTER (fraud),
               count(*) FILTER (shadow_alert), count(*) FILTER (shadow_alert AND fraud)
        FROM s WHERE shadow_rules_version >= 0 GROUP BY shadow_rules_version ORDER BY shadow_rules_version""").fetchall()
    by_pattern = con.execute("""
        WITH patterns AS (SELECT DISTINCT pattern FROM labels_table),
             named AS (SELECT s.alert, s.fraud, ps.pattern FROM s
                       JOIN pattern_signals ps ON split_part(s.reasons, ',', 1) = ps.signal)
        SELECT p.pattern,
               (SELECT count(*) FROM s WHERE s.pattern = p.pattern),
               (SELECT count(*) FROM s WHERE s.pattern = p.pattern AND alert),
               (SELECT count(*) FROM named n WHERE n.alert AND n.pattern = p.pattern),
               (SELECT count(*) FROM named n WHERE n.alert AND n.fraud AND n.pattern = p.pattern)
        FROM patterns p ORDER BY p.pattern""").fetchall()
    curve = [(t, *con.execute("SELECT count(*) FILTER (score >= ?), count(*) FILTER (score >= ? AND fraud) FROM s",
                              [t, t]).fetchone()) for t in THRESHOLDS]
    histogram = con.execute(f"""
        SELECT least(floor(score / {BUCKET}), {round(1 / BUCKET) - 1}) * {BUCKET} AS bucket,
               count(*) FILTER (NOT fraud), count(*) FILTER (fraud)
        FROM s GROUP BY bucket ORDER BY bucket""").fetchall()
    return Quality(transactions, frauds, by_version, by_shadow, by_pattern, curve,
                   [(round(b, 2), legit, fraud) for b, legit, fraud in histogram])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(q: Quality, source: str, png_name: str) -> str:
    alerts, tp = q.decisions()
    verdict = "met" if q.target_met() else "not met"
    meeting = q.thresholds_meeting_target()
    lines = [
        "# Fraud scoring quality", "",
        f"- scores: `{source}`; {q.transactions} transactions, {q.frauds} labelled fraud by the generator",
        f"- target: precision >= {TARGET_PRECISION} at recall >= {TARGET_RECALL}, on the job's own alerts: "
        f"**{verdict}** (precision {_pct(_rate(tp, alerts))}, recall {_pct(_rate(tp, q.frauds))})",
        "- thresholds on the score that would meet it: "
        + (", ".join(f"{t:.2f}" for t in meeting) if meeting else "none"), "",
        "## Per rule-set version", "",
        "| rule set | transactions | fraud | alerts | alert rate | precision | recall |", "|---|---|---|---|---|---|---|",
    ]
    for label, n, fraud, alerted, hits in q.by_version + q.by_shadow_version:
        lines.append(f"| {label} | {n} | {fraud} | {alerted} | {_pct(_rate(alerted, n))} | "
                     f"{_pct(_rate(hits, alerted))} | {_pct(_rate(hits, fraud))} |")
    lines += ["", "Shadow versions: what the shadow rule set would have alerted on the transactions it scored.", "",
              "## Per labelled pattern", "",
              "Recall: the pattern's fraudulent transactions that raised an alert. Precision: of the alerts whose "
              "strongest reason is the pattern's signal (velocity: velocity_1m or velocity_1h; account takeover: "
              "new_country), the share labelled fraud.", "",
              "| pattern | fraud transactions | alerted | recall | alerts naming it first | precision |",
              "|---|---|---|---|---|---|"]
    for pattern, n, alerted, named, named_fraud in q.by_pattern:
        lines.append(f"| {pattern} | {n} | {alerted} | {_pct(_rate(alerted, n))} | {named} | "
                     f"{_pct(_rate(named_fraud, named))} |")
    lines += ["", "## Threshold curve (active scores)", "", "| threshold | alerts | alert rate | precision | recall |",
              "|---|---|---|---|---|"]
    for t, alerted, hits in q.curve:
        lines.append(f"| {t:.2f} | {alerted} | {_pct(_rate(alerted, q.transactions))} | "
                     f"{_pct(_rate(hits, alerted))} | {_pct(_rate(hits, q.frauds))} |")
    lines += ["", "## Score distribution", "", "| score from | legitimate | fraud |", "|---|---|---|"]
    lines += [f"| {b:.2f} | {legit} | {fraud} |" for b, legit, fraud in q.histogram]
    lines += ["", f"![score distributions and threshold curve]({png_name})", ""]
    return "\n".join(lines)


def plot(q: Quality, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ReportError("the PNG needs matplotlib: .venv/bin/pip install -r requirements-bench.txt") from None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    buckets = [b for b, _, _ in q.histogram]
    legit_total = max(1, sum(r[1] for r in q.histogram))
    fraud_total = max(1, sum(r[2] for r in q.histogram))
    left.bar([b + BUCKET * 0.25 for b in buckets], [r[1] / legit_total for r in q.histogram], width=BUCKET * 0.45,
             label="legitimate")
    left.bar([b + BUCKET * 0.75 for b in buckets], [r[2] / fraud_total for r in q.histogram], width=BUCKET * 0.45,
             label="fraud (labelled)")
    left.set_xlabel("score")
    left.set_ylabel("share of its class")
    left.set_title("score distributions")
    left.legend()
    thresholds = [t for t, _, _ in q.curve]
    right.plot(thresholds, [tp / a if a else float("nan") for _, a, tp in q.curve], marker="o", label="precision")
    right.plot(thresholds, [tp / q.frauds if q.frauds else float("nan") for _, _, tp in q.curve], marker="o",
               label="recall")
    right.axhline(TARGET_PRECISION, linestyle="--", linewidth=0.8, color="grey")
    right.axhline(TARGET_RECALL, linestyle=":", linewidth=0.8, color="grey")
    right.set_xlabel("alert threshold")
    right.set_title("threshold curve (targets dashed: precision, dotted: recall)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from streamsuite.cold import cold_dataset
    from jobs.paths import run_dir
    from streamsuite.stack import StackSettings

    try:
        labels = json.loads(args.truth.read_text())["labels"]["labels"]
    except FileNotFoundError:
        raise ReportError(f"{args.truth} does not exist") from None
    except (ValueError, KeyError, TypeError):
        raise ReportError(f"{args.truth} is not a fraud ground truth (no labels.labels)") from None
    dataset = cold_dataset(StackSettings.from_env(), args.scores)
    if dataset is None:
        raise ReportError(f"no finished Parquet files under {args.scores}")
    quality = measure(dataset.to_table(), labels)
    out = args.out or run_dir() / "reports" / time.strftime("fraud-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    plot(quality, out / "fraud-report.png")
    (out / "fraud-report.md").write_text(markdown(quality, args.scores, "fraud-report.png"))
    alerts, tp = quality.decisions()
    print(f"{out / 'fraud-report.md'}: precision {_pct(_rate(tp, alerts))}, recall {_pct(_rate(tp, quality.frauds))}; "
          f"target {'met' if quality.target_met() else 'not met'}")
    return 0
