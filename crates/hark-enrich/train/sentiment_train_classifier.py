#!/usr/bin/env python3
"""Fits the last layer of the built-in sentiment model: a multinomial logistic regression from what
the lexicons and the Chinese naive-Bayes model found in a mention (src/sentiment.rs `features`) to
negative / neutral / positive. Its probabilities are the model's confidence. Writes
data/sentiment-classifier-v2.tsv, which src/sentiment.rs compiles in.

Input: the per-mention feature dump of the dev set, made by

    cargo run --release -p hark-enrich --example sentiment_eval -- \\
        --dump .hark/eval/sentiment-dev-dump.tsv ../shared/data/mentions-dev.jsonl

The features do not depend on this layer, so one dump is enough. This fits on the dev set (a
tuning step; dev-set figures are therefore training figures, and the 5-fold cross-validated
accuracy printed here is the fairer dev-set number); held-out files only measure the result.
"""
import math
import pathlib
import random
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
OUT = ROOT / "crates/hark-enrich/data/sentiment-classifier-v2.tsv"
LABELS = ["negative", "neutral", "positive"]
L2 = 2.0
STEPS = 1500
RATE = 0.3


def load(path):
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    names = header[4:]
    xs, ys = [], []
    for line in lines[1:]:
        fields = line.split("\t")
        xs.append([1.0] + [float(v) for v in fields[4:]])
        ys.append(LABELS.index(fields[2]))
    return ["bias"] + names, xs, ys


def probabilities(w, x):
    z = [sum(wi * xi for wi, xi in zip(row, x)) for row in w]
    m = max(z)
    e = [math.exp(v - m) for v in z]
    t = sum(e)
    return [v / t for v in e]


def fit(xs, ys, dims):
    w = [[0.0] * dims for _ in LABELS]
    n = len(xs)
    for _ in range(STEPS):
        grad = [[(L2 * w[k][i] / n if i else 0.0) for i in range(dims)] for k in range(len(LABELS))]
        for x, y in zip(xs, ys):
            p = probabilities(w, x)
            for k in range(len(LABELS)):
                g = p[k] - (1.0 if k == y else 0.0)
                for i, xi in enumerate(x):
                    grad[k][i] += g * xi / n
        w = [[wi - RATE * gi for wi, gi in zip(wr, gr)] for wr, gr in zip(w, grad)]
    return w


def accuracy(w, xs, ys):
    right = sum(max(range(3), key=lambda k: probabilities(w, x)[k]) == y for x, y in zip(xs, ys))
    return right / len(xs)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else ROOT / ".hark/eval/sentiment-dev-dump.tsv"
    names, xs, ys = load(path)
    order = list(range(len(xs)))
    random.Random(7).shuffle(order)
    folds = [order[i::5] for i in range(5)]
    right = 0
    for fold in folds:
        held = set(fold)
        w = fit([xs[i] for i in order if i not in held], [ys[i] for i in order if i not in held], len(names))
        right += accuracy(w, [xs[i] for i in fold], [ys[i] for i in fold]) * len(fold)
    w = fit(xs, ys, len(names))
    print(f"dev set: fitted accuracy {accuracy(w, xs, ys):.3f}, 5-fold cross-validated {right / len(xs):.3f}")
    with open(OUT, "w", encoding="utf-8") as out:
        out.write(f"# feature\tnegative\tneutral\tpositive  (sentiment classifier v2: multinomial logistic regression "
                  f"weights, fitted by train/sentiment_train_classifier.py on the dev set, {len(xs)} mentions)\n")
        for i, name in enumerate(names):
            out.write(f"{name}\t" + "\t".join(f"{w[k][i]:.4f}" for k in range(3)) + "\n")
    print(OUT)


if __name__ == "__main__":
    main()
