#!/usr/bin/env python3
"""Kafka writer for the Hark end-to-end tests.

Writes each line of stdin (raw bytes, without its trailing newline) as one
message to a topic, with an optional key and headers. Lines are not decoded,
so tests can send poison input such as invalid UTF-8. Empty lines are sent as
empty messages.

The topic is created (with --partitions partitions) when the broker does not
know it yet.

stderr: diagnostics and one summary line {"summary": {...}}.
Exit status: 0 when every message was delivered, 1 when any delivery failed,
2 on bad arguments or when the broker cannot be reached / the topic cannot be
created.
"""

import argparse
import json
import sys
import time

try:
    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - environment problem
    print("kafka_write: confluent_kafka is not installed (run deploy/local.sh install "
          "and use .hark/venv/bin/python)", file=sys.stderr)
    sys.exit(2)

from kafka_common import client_logger  # noqa: E402  (beside this script)


def log(msg):
    print(f"kafka_write: {msg}", file=sys.stderr, flush=True)


def parse_header(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"header must be name=value, got {text!r}")
    return name, value


def parse_args(argv):
    p = argparse.ArgumentParser(description="Write each stdin line as one Kafka message.")
    p.add_argument("--brokers", required=True, help="bootstrap servers, e.g. 127.0.0.1:9092")
    p.add_argument("--topic", required=True)
    p.add_argument("--key", default=None, help="message key for every message (default: none)")
    p.add_argument("--header", action="append", default=[], type=parse_header, metavar="NAME=VALUE",
                   help="message header (repeatable)")
    p.add_argument("--partitions", type=int, default=3,
                   help="partitions when the topic has to be created (default 3)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for connection, topic creation and delivery (default 30)")
    args = p.parse_args(argv)
    if not args.topic.strip():
        p.error("--topic must not be empty")
    if args.partitions < 1:
        p.error("--partitions must be >= 1")
    if args.timeout <= 0:
        p.error("--timeout must be > 0")
    return args


def ensure_topic(brokers, topic, partitions, timeout):
    """Make sure the topic exists; returns an exit code (0 ok, 2 failure)."""
    admin = AdminClient({
        "bootstrap.servers": brokers,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.ms": 200,
        "reconnect.backoff.max.ms": 2000,
    }, logger=client_logger("kafka_write"))
    try:
        md = admin.list_topics(timeout=min(timeout, 10.0))
    except KafkaException as e:
        log(f"cannot reach brokers {brokers}: {e}")
        return 2
    t = md.topics.get(topic)
    if t is not None and t.error is None and t.partitions:
        return 0

    log(f"creating topic {topic} with {partitions} partition(s)")
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=timeout, request_timeout=timeout)
    try:
        futures[topic].result(timeout)
    except KafkaException as e:
        err = e.args[0] if e.args else None
        if not (isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
            log(f"cannot create topic {topic}: {e}")
            return 2
    except Exception as e:
        log(f"cannot create topic {topic}: {e}")
        return 2

    # Wait until the metadata shows the topic with its partitions.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(topic=topic, timeout=5.0)
            t = md.topics.get(topic)
            if t is not None and t.error is None and t.partitions:
                return 0
        except KafkaException:
            pass
        time.sleep(0.2)
    log(f"topic {topic} did not show up in the metadata within {timeout}s")
    return 2


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    rc = ensure_topic(args.brokers, args.topic, args.partitions, args.timeout)
    if rc != 0:
        return rc

    producer = Producer({
        "bootstrap.servers": args.brokers,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": int(args.timeout * 1000),
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.ms": 200,
        "reconnect.backoff.max.ms": 2000,
    }, logger=client_logger("kafka_write"))
    headers = [(name, value.encode("utf-8")) for name, value in args.header]
    key = None if args.key is None else args.key.encode("utf-8")

    state = {"ok": 0, "failed": 0}

    def on_delivery(err, _msg):
        if err is not None:
            state["failed"] += 1
            if state["failed"] <= 5:
                log(f"delivery failed: {err}")
        else:
            state["ok"] += 1

    sent = 0
    for line in sys.stdin.buffer:
        if line.endswith(b"\n"):
            line = line[:-1]
        while True:
            try:
                producer.produce(args.topic, value=line, key=key, headers=headers or None,
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        sent += 1
        producer.poll(0)

    remaining = producer.flush(args.timeout)
    if remaining:
        log(f"{remaining} message(s) still undelivered after {args.timeout}s")
    failed = state["failed"] + remaining
    print(json.dumps({"summary": {"topic": args.topic, "sent": sent, "delivered": state["ok"],
                                  "failed": failed}}), file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
