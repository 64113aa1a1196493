#!/usr/bin/env python3
"""Independent Kafka reader for the Hark end-to-end tests.

Reads Kafka topics with confluent-kafka (not with Hark's own client code) so
tests can check what the pipeline really wrote.

stdout: one JSON object per message:
    {"topic": str, "partition": int, "offset": int,
     "key": str | null, "headers": {name: str | null},
     "value": <parsed JSON> | {"_raw": str} | null}
  - key/header values/raw values that are not valid UTF-8 are decoded with
    backslash escapes (b"\\xff" -> "\\\\xff").
  - value is null for a tombstone (no value at all).
  - when a header name repeats, the last value wins.
stderr: diagnostics and, at the end, one summary line:
    {"summary": {"read": N, "expected": N|null, "per_topic": {...},
                 "reason": "expect"|"idle"|"timeout"|"interrupted",
                 "elapsed_s": float, "first_message_s": float|null}}

Exit status: 0 when the reader ran (also on timeout: the caller checks the
counts), 2 on bad arguments or when the broker cannot be reached.
"""

import argparse
import json
import signal
import sys
import time
import uuid

try:
    from confluent_kafka import Consumer, KafkaError, KafkaException
except ImportError:  # pragma: no cover - environment problem
    print("kafka_read: confluent_kafka is not installed (run deploy/local.sh install "
          "and use .hark/venv/bin/python)", file=sys.stderr)
    sys.exit(2)

from kafka_common import client_logger  # noqa: E402  (beside this script)


def log(msg):
    print(f"kafka_read: {msg}", file=sys.stderr, flush=True)


def decode_text(data):
    if data is None:
        return None
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8", errors="backslashreplace")


def decode_value(data):
    if data is None:
        return None
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return {"_raw": decode_text(data)}
    try:
        return json.loads(text)
    except ValueError:
        return {"_raw": text}


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Read Kafka topics from the earliest offset and print one JSON line per message.")
    p.add_argument("--brokers", required=True, help="bootstrap servers, e.g. 127.0.0.1:9092")
    p.add_argument("--topics", required=True, help="comma separated topic names")
    p.add_argument("--group", default=None, help="consumer group id (default: a random one)")
    p.add_argument("--expect", type=int, default=None,
                   help="stop once this many messages were read in total")
    p.add_argument("--timeout", type=float, default=60.0, help="overall time limit in seconds (default 60)")
    p.add_argument("--idle", type=float, default=0.0,
                   help="stop after this many seconds without a message once one arrived (0 = off)")
    args = p.parse_args(argv)

    args.topic_list = [t.strip() for t in args.topics.split(",") if t.strip()]
    if not args.topic_list:
        p.error("--topics: no topic names given")
    if args.expect is not None and args.expect < 0:
        p.error("--expect must be >= 0")
    if args.timeout <= 0:
        p.error("--timeout must be > 0")
    if args.idle < 0:
        p.error("--idle must be >= 0")
    if not args.group:
        args.group = f"hark-kafka-read-{uuid.uuid4().hex[:12]}"
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    start = time.monotonic()
    deadline = start + args.timeout

    interrupted = {"flag": False}

    def on_signal(_signum, _frame):
        interrupted["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    conf = {
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 1000,
        "allow.auto.create.topics": False,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.ms": 200,
        "reconnect.backoff.max.ms": 2000,
    }
    try:
        consumer = Consumer(conf, logger=client_logger("kafka_read"))
    except KafkaException as e:
        log(f"bad consumer configuration: {e}")
        return 2

    # Fail fast (exit 2) when the broker cannot be reached at all.
    try:
        consumer.list_topics(timeout=max(1.0, min(10.0, args.timeout)))
    except KafkaException as e:
        log(f"cannot reach brokers {args.brokers}: {e}")
        consumer.close()
        return 2

    consumer.subscribe(args.topic_list)

    per_topic = {t: 0 for t in args.topic_list}
    read = 0
    first_at = None
    last_at = None
    reason = "timeout"
    reported_errors = set()

    try:
        while True:
            now = time.monotonic()
            if interrupted["flag"]:
                reason = "interrupted"
                break
            if args.expect is not None and read >= args.expect:
                reason = "expect"
                break
            if args.idle > 0 and last_at is not None and now - last_at >= args.idle:
                reason = "idle"
                break
            if now >= deadline:
                reason = "timeout"
                break
            wait = min(0.5, deadline - now)
            if args.idle > 0 and last_at is not None:
                wait = min(wait, max(0.01, args.idle - (now - last_at)))
            msg = consumer.poll(wait)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                key = (err.code(), msg.topic())
                if key not in reported_errors:
                    reported_errors.add(key)
                    # A topic the pipeline has not created yet is not fatal:
                    # keep waiting until the timeout.
                    log(f"consumer error (topic {msg.topic()}): {err.str()}")
                if err.fatal():
                    log("fatal consumer error; stopping")
                    break
                continue

            headers = {}
            for name, value in msg.headers() or []:
                headers[name] = decode_text(value)
            record = {
                "topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": decode_text(msg.key()),
                "headers": headers,
                "value": decode_value(msg.value()),
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            read += 1
            per_topic[msg.topic()] = per_topic.get(msg.topic(), 0) + 1
            last_at = time.monotonic()
            if first_at is None:
                first_at = last_at
    finally:
        try:
            consumer.close()
        except Exception as e:  # closing must not change the outcome
            log(f"close: {e}")

    summary = {
        "read": read,
        "expected": args.expect,
        "per_topic": per_topic,
        "group": args.group,
        "reason": reason,
        "elapsed_s": round(time.monotonic() - start, 3),
        "first_message_s": None if first_at is None else round(first_at - start, 3),
    }
    print(json.dumps({"summary": summary}), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
