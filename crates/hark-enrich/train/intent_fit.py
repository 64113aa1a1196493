#!/usr/bin/env python3
"""Fits the intent classifier's weights (data/intent-weights-v1.tsv) on labelled mentions.

The classifier is a softmax over six linear scores; its features (cue sums per label, question
shape, sentiment, links, exclamations) come from the Rust code itself, so the fitted weights see
exactly what the classifier will compute:

    cargo run --release -p hark-enrich --example intent_eval -- --features ../shared/data/mentions-dev.jsonl > /tmp/intent-features.tsv
    python3 crates/hark-enrich/train/intent_fit.py /tmp/intent-features.tsv > crates/hark-enrich/data/intent-weights-v1.tsv

Multinomial logistic regression with an L2 penalty, by plain gradient descent (no dependencies:
the data is a few hundred rows). It prints 5-fold cross-validated accuracy to stderr first, so a
change to the features or the penalty can be judged on mentions the fit did not see. Only the
dev set is fitted; the held-out set (eval/intent-heldout.jsonl) must never be passed here.
"""

import math
import random
import sys

LABELS = ["complaint", "question", "praise", "feedback", "purchase_intent", "other"]
L2 = 0.02
# The cue lists were written with the dev set at hand, so nearly every dev mention matches some
# cue and the fit never sees a text without evidence. New text often has none: a neutral post with
# no cue at all is news or chatter. These pseudo-mentions (bias only, label `other`) say so.
PRIOR_OTHER_ROWS = 20
STEPS = 1500
RATE = 0.5


def read(path):
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        features = header[3:]
        rows = []
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if "heldout" in fields[0]:
                sys.exit("refusing to fit on held-out mentions: " + fields[0])
            rows.append((LABELS.index(fields[2]), [float(v) for v in fields[3:]]))
    return features, rows


def softmax(scores):
    top = max(scores)
    exp = [math.exp(s - top) for s in scores]
    total = sum(exp)
    return [e / total for e in exp]


def fit(rows, n_features):
    weights = [[0.0] * n_features for _ in LABELS]
    n = len(rows)
    for _ in range(STEPS):
        grad = [[0.0] * n_features for _ in LABELS]
        for label, x in rows:
            p = softmax([sum(w * v for w, v in zip(weights[k], x)) for k in range(len(LABELS))])
            for k in range(len(LABELS)):
                err = p[k] - (1.0 if k == label else 0.0)
                if err:
                    g = grad[k]
                    for j, v in enumerate(x):
                        if v:
                            g[j] += err * v
        for k in range(len(LABELS)):
            for j in range(n_features):
                # The bias (feature 0) is not penalised.
                penalty = L2 * weights[k][j] if j else 0.0
                weights[k][j] -= RATE * (grad[k][j] / n + penalty)
    return weights


def predict(weights, x):
    scores = [sum(w * v for w, v in zip(weights[k], x)) for k in range(len(LABELS))]
    return scores.index(max(scores))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: intent_fit.py FEATURES.tsv > intent-weights-v1.tsv")
    features, rows = read(sys.argv[1])
    prior = [(LABELS.index("other"), [1.0] + [0.0] * (len(features) - 1))] * PRIOR_OTHER_ROWS

    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    folds = 5
    right = 0
    for i in range(folds):
        test = shuffled[i::folds]
        train = [r for j, r in enumerate(shuffled) if j % folds != i]
        w = fit(train + prior, len(features))
        right += sum(predict(w, x) == label for label, x in test)
    print(f"5-fold cross-validated accuracy: {right / len(rows):.3f} ({len(rows)} mentions)", file=sys.stderr)

    weights = fit(rows + prior, len(features))
    train_right = sum(predict(weights, x) == label for label, x in rows)
    print(f"accuracy on the fitted mentions: {train_right / len(rows):.3f}", file=sys.stderr)

    print("# feature\tcomplaint\tquestion\tpraise\tfeedback\tpurchase_intent\tother  "
          "(intent weights v1, fitted by train/intent_fit.py on the dev set; see README.md, section Intent)")
    print("feature\t" + "\t".join(LABELS))
    for j, name in enumerate(features):
        print(name + "\t" + "\t".join(f"{weights[k][j]:.3f}" for k in range(len(LABELS))))


if __name__ == "__main__":
    main()
