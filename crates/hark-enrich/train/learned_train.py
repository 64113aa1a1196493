#!/usr/bin/env python3
"""Trains the learned text heads (data/learned-v6.bin): sentiment, intent, spam and offensive from
hashed word, word-pair and character n-gram features, one logistic regression each, the weight with
which each is blended with the hand-built model's answer, and the temperature that makes the
blend's probabilities honest (its `confidence`, or for spam and offensive its score).

    pip install scikit-learn==1.9.1 numpy scipy
    cargo build --release -p hark
    python3 crates/hark-enrich/train/learned_train.py target/release/hark \\
        crates/hark-enrich/train/data/mentions-train-v1.jsonl crates/hark-enrich/train/data/mentions-train-v2.jsonl \
        crates/hark-enrich/train/data/mentions-train-v3.jsonl crates/hark-enrich/train/data/mentions-train-v4.jsonl \
        ../shared/data/mentions-dev.jsonl

Files named `mentions-train-*` are the training set the blend is tuned on; the others are only
trained on (the dev set, which the hand-built models were tuned on, so it says nothing about how
much to trust them).
Tuning uses 5 cross-validation folds of the `mentions-train-*` files: the penalty C of each head,
then the blend weight and the temperature (least log-loss), on each fold's held-back fifth. Spam and
offensive only ever raise the rules' score in the enricher and are flagged from a threshold, so
their weight is the one whose raised, tempered score has the best F1 at the enricher's threshold;
offensive, a tenth of the mentions, is fitted with balanced class weights. Nothing else is read,
and no evaluation file may be passed.

Features must be computed exactly as `src/learned.rs` computes them; the script writes
`data/learned-v6-check.tsv` (texts and their buckets), which a Rust test compares against.
"""

import json
import math
import pathlib
import struct
import subprocess
import sys
import tempfile

import numpy as np
from scipy.sparse import csr_matrix, vstack
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "data"
BUCKET_BITS = 16
LANGUAGES = ["de", "en", "es", "fr", "it", "pl", "ru", "zh"]
HEADS = {
    "sentiment": ["negative", "neutral", "positive"],
    "intent": ["complaint", "question", "praise", "feedback", "purchase_intent", "other"],
    "spam": ["ham", "spam"],
    "offensive": ["clean", "offensive"],
}
# The enricher's thresholds (EnrichConfig's defaults) for the heads that raise a score.
THRESHOLDS = {"spam": 0.7, "offensive": 0.4}
# Offensive mentions are rare: unweighted, the head hardly ever says so (F1 0.46 alone on the folds, 0.56 balanced).
CLASS_WEIGHT = {"offensive": "balanced"}
C_GRID = [16.0, 64.0, 256.0]
BLEND_GRID = [i / 10 for i in range(11)]
TEMPERATURE_GRID = [0.4 + i / 20 for i in range(33)]
FOLDS = 5


def fnv1a(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def words(text):
    """Lowercased runs of letters and digits; ASCII digits become 0."""
    out, current = [], []
    for ch in text.lower():
        if ch.isalnum():
            current.append("0" if "0" <= ch <= "9" else ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def buckets(text):
    """The sorted distinct buckets of a text's features."""
    ws = words(text)
    features = []
    for w in ws:
        features.append("w:" + w)
        padded = " " + w + " "
        for n in (2, 3, 4):
            for i in range(len(padded) - n + 1):
                features.append("c:" + padded[i : i + n])
    for a, b in zip(ws, ws[1:]):
        features.append("b:" + a + " " + b)
    for ch in text:
        if not ch.isalnum() and not ch.isspace():
            features.append("p:" + ch)
    mask = (1 << BUCKET_BITS) - 1
    return sorted({fnv1a(f) & mask for f in features})


def matrix(texts):
    rows, cols, vals = [], [], []
    for r, text in enumerate(texts):
        bs = buckets(text)
        for b in bs:
            rows.append(r)
            cols.append(b)
            vals.append(1.0 / math.sqrt(len(bs)))
    return csr_matrix((vals, (rows, cols)), shape=(len(texts), 1 << BUCKET_BITS))


def read(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def label(row, head):
    """A row's class for `head`: its label, or for spam and offensive whether it is."""
    if head == "spam":
        return "spam" if row["spam"] else "ham"
    if head == "offensive":
        return "offensive" if row["offensive"] else "clean"
    return row[head]


def enrich_file(hark, rows, config):
    """`hark enrich-file` over the rows' text, language and brand (the spam rules look for
    look-alikes of it) with the given `[enrich]` config: each row's enrichment."""
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "hark.toml"
        path.write_text(config)
        source = pathlib.Path(tmp) / "in.jsonl"
        source.write_text("".join(json.dumps({k: r[k] for k in ("text", "lang", "brand") if k in r}) + "\n" for r in rows))
        out = subprocess.run([hark, "enrich-file", "-c", str(path), str(source)], check=True, capture_output=True, text=True)
    return [json.loads(line)["enrichment"] for line in out.stdout.splitlines()]


def hand_built(hark, rows):
    """The hand-built models' label and confidence for each row (learned heads off); for spam and
    offensive the rules' answer at 0.5, with its score as the probability (as `raising_head` in
    src/enricher.rs)."""
    result = []
    for e in enrich_file(hark, rows, "[enrich]\nlearned = false\nspam_repeat_authors = 0\n"):
        answers = {h: (e[h]["label"], e[h]["confidence"]) for h in ("sentiment", "intent")}
        for head in THRESHOLDS:
            score = e[head]["score"]
            answers[head] = (HEADS[head][1], score) if score >= 0.5 else (HEADS[head][0], 1.0 - score)
        result.append(answers)
    return result


def raised(p, hand, positive):
    """The score the enricher gives a raising head: the blend's probability (rounded as there) where
    it is above the rules' score (`hand` holds their answers, `positive` at its score or the other
    class at one minus it)."""
    rules = np.array([c if answer == positive else 1 - c for answer, c in hand])
    return np.maximum(rules, np.round(p[:, 1], 3))


def spread(label, confidence, classes):
    """The hand-built answer as a distribution: its confidence on its label (never below the
    others'), the rest shared. As `Head::blend` in src/learned.rs."""
    confidence = min(1.0, max(confidence, 0.01 + 1.0 / len(classes)))
    p = np.full(len(classes), (1.0 - confidence) / (len(classes) - 1))
    p[classes.index(label)] = confidence
    return p


def blended_f1(p_learned, p_hand, y, w):
    p = w * p_learned + (1 - w) * p_hand
    return f1_score(y, p.argmax(axis=1), average="macro")


def tempered(p, t):
    """p^(1/t), normalised: t > 1 makes the answer less sure. As `Head::blend` in src/learned.rs."""
    q = np.power(np.maximum(p, 1e-12), 1.0 / t)
    return q / q.sum(axis=1, keepdims=True)


def log_loss(p, y):
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))


def main():
    hark, *paths = sys.argv[1:]
    tune_paths = [p for p in paths if "mentions-train-" in p]
    extra_paths = [p for p in paths if p not in tune_paths]
    tune = [r for p in tune_paths for r in read(p) if r["lang"] in LANGUAGES]
    extra = [r for p in extra_paths for r in read(p) if r["lang"] in LANGUAGES]
    x_tune, x_extra = matrix([r["text"] for r in tune]), matrix([r["text"] for r in extra])
    hand = hand_built(hark, tune)
    heads = []
    for head, classes in HEADS.items():
        y = np.array([classes.index(label(r, head)) for r in tune])
        y_extra = np.array([classes.index(label(r, head)) for r in extra])
        p_hand = np.array([spread(*h[head], classes) for h in hand])
        folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=7).split(np.zeros(len(y)), y))
        # Out-of-fold probabilities of the learned head for each C.
        out_of_fold = {}
        for c in C_GRID:
            p = np.zeros((len(y), len(classes)))
            for train, test in folds:
                x = _stack(x_tune[train], x_extra)
                model = LogisticRegression(C=c, max_iter=1000, tol=1e-3, class_weight=CLASS_WEIGHT.get(head))
                model.fit(x, np.concatenate([y[train], y_extra]))
                p[test] = model.predict_proba(x_tune[test])
            out_of_fold[c] = p
            print(f"{head}: C={c:<5} learned alone, cross-validated macro-F1 {blended_f1(p, p_hand, y, 1.0):.3f}", file=sys.stderr)
        best_c = max(C_GRID, key=lambda c: blended_f1(out_of_fold[c], p_hand, y, 1.0))

        def blend_of(w):
            return w * out_of_fold[best_c] + (1 - w) * p_hand

        temperatures = {w: min(TEMPERATURE_GRID, key=lambda t: log_loss(tempered(blend_of(w), t), y)) for w in BLEND_GRID}
        if head in THRESHOLDS:
            answers = [h[head] for h in hand]
            scores = {w: f1_score(y, raised(tempered(blend_of(w), t), answers, classes[1]) >= THRESHOLDS[head]) for w, t in temperatures.items()}
        else:
            scores = {w: blended_f1(out_of_fold[best_c], p_hand, y, w) for w in BLEND_GRID}
        blend = max(BLEND_GRID, key=lambda w: (round(scores[w], 3), w))
        p_blend, temperature = blend_of(blend), temperatures[blend]
        print(
            f"{head}: hand-built alone {scores[0.0]:.3f}, learned alone {scores[1.0]:.3f}, "
            f"blend {blend} {scores[blend]:.3f}, temperature {temperature:.2f} "
            f"(ECE {ece(p_blend, y):.3f} before, {ece(tempered(p_blend, temperature), y):.3f} after) "
            f"(C={best_c}, {len(y)} tuning rows, {len(y_extra)} more trained on)",
            file=sys.stderr,
        )
        model = LogisticRegression(C=best_c, max_iter=1000, tol=1e-3, class_weight=CLASS_WEIGHT.get(head))
        model.fit(_stack(x_tune, x_extra), np.concatenate([y, y_extra]))
        heads.append((head, classes, blend, temperature, model))
    write_model(DATA / "learned-v6.bin", heads)
    write_check(DATA / "learned-v6-check.tsv", [r["text"] for r in tune[:: max(1, len(tune) // 80)]])


def ece(p, y, bins=10):
    """Expected calibration error of the most likely class's probability, 10 equal-width bins."""
    confidence, right = p.max(axis=1), p.argmax(axis=1) == y
    total = 0.0
    for b in range(bins):
        inside = (confidence > b / bins) & (confidence <= (b + 1) / bins)
        if inside.any():
            total += inside.sum() / len(y) * abs(confidence[inside].mean() - right[inside].mean())
    return total


def _stack(a, b):
    return vstack([a, b]) if b.shape[0] else a


def write_model(path, heads):
    """Little-endian: magic, bucket bits, languages, then per head its classes, blend weight,
    temperature, the scale of its weights, biases and the weights as i8 (bucket-major)."""
    out = bytearray(b"HARKLIN2")
    out += struct.pack("<I", BUCKET_BITS)
    out += _strings(LANGUAGES)
    out += struct.pack("<I", len(heads))
    for name, classes, blend, temperature, model in heads:
        coef, intercept = model.coef_.T.astype(np.float64), model.intercept_  # buckets × classes
        if len(classes) == 2:
            # A binary regression has one column, for the second class: as two columns of a
            # softmax, -z/2 and +z/2 give the same probabilities.
            coef, intercept = np.hstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        scale = float(np.abs(coef).max()) / 127.0
        out += _strings([name]) + _strings(classes)
        out += struct.pack("<fff", blend, temperature, scale)
        out += struct.pack(f"<{len(classes)}f", *intercept)
        out += np.clip(np.round(coef / scale), -127, 127).astype(np.int8).tobytes()
    path.write_bytes(bytes(out))
    print(f"wrote {path} ({len(out)} bytes)", file=sys.stderr)


def _strings(items):
    out = struct.pack("<I", len(items))
    for s in items:
        b = s.encode("utf-8")
        out += struct.pack("<B", len(b)) + b
    return out


def write_check(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for text in texts:
            f.write(" ".join(map(str, buckets(text))) + "\t" + json.dumps(text, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
