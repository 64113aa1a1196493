#!/usr/bin/env python3
"""Chooses `enrich.spam_threshold` and `enrich.offensive_threshold` on the training mentions.

The spam and offensive scorers were built without these files (their rules and word lists come
from public data and the label definitions), so their labels are fresh evidence of where each
score should be cut. Each threshold is the one with the best F1 over the training files, on a
grid of 0.05, among those whose precision there is at least MIN_PRECISION: a mention wrongly
flagged spam leaves the complaint queue and the alerts, and one wrongly flagged offensive lands
in a moderation queue, so a flag must be wrong less than once in fifty. The script first shows
how well that rule chooses: on 5 folds, a threshold chosen on four fifths and scored on the fifth
left out. Ties go to the higher threshold (fewer false flags). No evaluation file may be passed.
The shipped spam threshold stays above this rule's choice (see `data/README.md`).

    cargo build --release -p hark
    python3 crates/hark-enrich/train/choose_thresholds.py target/release/hark \\
        crates/hark-enrich/train/data/mentions-train-v1.jsonl crates/hark-enrich/train/data/mentions-train-v2.jsonl
"""

import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile

GRID = [round(0.05 * i, 2) for i in range(2, 19)]
FOLDS = 5
MIN_PRECISION = 0.98
LABELS = {"spam": "spam", "offensive": "offensive"}


def enrich(hark, path):
    """(gold spam, spam score, gold offensive, offensive score) of each mention of `path`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "enriched.jsonl"
        subprocess.run([hark, "enrich-file", str(path), "-o", str(out)], check=True, capture_output=True)
        rows = []
        for line in out.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            mention, enrichment = record["mention"], record["enrichment"]
            extra = mention.get("extra", {})
            gold = lambda label: bool(mention.get(label, extra.get(label, False)))
            fold = int(hashlib.sha256(mention["text"].encode("utf-8")).hexdigest(), 16) % FOLDS
            rows.append({
                "fold": fold,
                "spam": (gold("spam"), enrichment["spam"]["score"]),
                "offensive": (gold("offensive"), enrichment["offensive"]["score"]),
            })
        return rows


def counts(pairs, threshold):
    tp = sum(1 for gold, score in pairs if gold and score >= threshold)
    fp = sum(1 for gold, score in pairs if not gold and score >= threshold)
    fn = sum(1 for gold, score in pairs if gold and score < threshold)
    return tp, fp, fn


def f1(pairs, threshold):
    tp, fp, fn = counts(pairs, threshold)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def precision(pairs, threshold):
    tp, fp, _ = counts(pairs, threshold)
    return tp / (tp + fp) if tp else 0.0


def best(pairs):
    allowed = [t for t in GRID if precision(pairs, t) >= MIN_PRECISION] or GRID[-1:]
    return max(allowed, key=lambda t: (round(f1(pairs, t), 6), t))


def main():
    if len(sys.argv) < 3 or any("eval" in pathlib.Path(p).parts for p in sys.argv[2:]):
        sys.exit(__doc__)
    hark, files = sys.argv[1], sys.argv[2:]
    rows = [row for path in files for row in enrich(hark, path)]
    for label in LABELS:
        pairs = [row[label] for row in rows]
        held = []
        for k in range(FOLDS):
            chosen = best([row[label] for row in rows if row["fold"] != k])
            left_out = [row[label] for row in rows if row["fold"] == k]
            held.append((chosen, f1(left_out, chosen)))
        positives = sum(1 for gold, _ in pairs if gold)
        print(f"{label}: {positives} of {len(pairs)} training mentions")
        print("  chosen on four folds, F1 on the fifth: " + ", ".join(f"{t:.2f} → {s:.3f}" for t, s in held))
        print(f"  threshold from all the training files: {best(pairs):.2f} (F1 {f1(pairs, best(pairs)):.3f})")
        print("  precision / F1 by threshold: " + ", ".join(f"{t:.2f} {precision(pairs, t):.3f} / {f1(pairs, t):.3f}" for t in GRID))


if __name__ == "__main__":
    main()
