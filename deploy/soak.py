#!/usr/bin/env python3
"""Soak: Hark's delivery guarantees under load and faults, checked from outside.

What it proves: with several processes per stage, a steady stream of mentions and the faults a
production install meets (scale-out, SIGKILL of any stage, a Redis restart, a receiver that
refuses and then fails requests), every mention Hark acknowledged reaches the raw and enriched
topics and every route it belongs to, no mention is enriched two different ways, and every
alert state change reaches the webhook receiver once as news. Redeliveries (the same record
again under the same `hark-mention-id`, the same notification again under the same
`X-Hark-Notification-Id`) are allowed, counted and reported: that is the at-least-once the
README promises.

How:
  1. starts its own Redis (AOF, in a temporary folder, on a free port) so it can restart it, and
     uses the broker at HARK__KAFKA__BROKERS (default 127.0.0.1:9092) with topics, consumer
     groups and Redis keys named after this run;
  2. writes deploy/hark.example.toml's brands, routes and alert rules with the run's names and
     one webhook receiver (a server in this script that checks signatures and records ids) and
     starts K processes of each stage (`hark ingest`, `enrich`, `route`, `alert`, `notify`),
     each on ports of its own;
  3. posts N mentions (demo texts with fresh ids, authors and timestamps over the past hours,
     a few influencer and viral ones so alerts and notifications happen) as NDJSON batches
     from a few concurrent clients, round-robin over the ingest processes, resending what
     failed (503, broken connection): Hark reports a resent accepted mention as `duplicate`.
     The clients stay at most --max-backlog mentions ahead of routing, and a small N is spread
     over --min-duration seconds in smaller batches, so faults hit a stream that is moving;
  4. meanwhile injects faults at fixed points of progress (see FAULTS), each SIGKILL timed to
     a moment when the stage likely holds work (ingest: a request in flight);
  5. waits until the consumer groups have no lag, the topics stop growing, the notify outbox
     is empty and the receiver is quiet, then reads every output topic from the start with an
     independent confluent-kafka consumer and compares: per topic, records, distinct mention
     ids, redeliveries, lost, doubled; the routes each enriched mention must take (recomputed
     here from the route rules and the mention's enrichment); alert transitions against the
     notifications the receiver got;
  6. prints the machine, the command and the table; cleans up processes, Redis, the temporary
     folder and (unless --keep-topics) the run's topics, also on failure and Ctrl-C.

Definitions:
  - lost: an id Hark acknowledged (accepted, or `duplicate` of an answer the client never got)
    missing from raw; a raw id missing from enriched; an (id, route) the rules call for
    missing from that route's topic (a mention enrich judged spam goes to the spam topic
    only; a mention no rule matches goes to unmatched);
  - doubled: one id with two different contents (ingest's `ingested_at` and enrich's
    `enriched_at` left out: a re-produce or a re-enrichment may set them anew), i.e. two
    different enrichments of one mention; a routed record whose content is not its enrichment;
  - notifications: an alert transition is (fingerprint, state, starts_at) on the alerts topic.
    A notification lists all firing alerts of its group (Alertmanager's design), so a firing
    alert appears in several notifications; what must happen once is the *news*: doubled
    counts notifications that bring no new transition (repeat_interval is set past the run)
    and resolutions delivered under two ids; lost counts transitions never delivered, except
    an alert that fired and resolved within --coalesce-slack seconds and was delivered in
    neither state (both fell between two flushes of its group: not notified, by design).

The enricher's copy-paste spam signal (`enrich.spam_repeat_authors`) stays on: the enrich
processes share its count in Redis and pin it per mention (crates/hark-enrich/src/repeat_store.rs),
so a mention redelivered to another process must get the same labels, or the doubled column
says so. The demo texts repeat by design, so it flags many of them. Everything else is the
example config's.

Usage: .hark/venv/bin/python deploy/soak.py [--hark BIN] [--mentions N] [--processes K] ...
Exit status: 0 when nothing was lost or doubled, 1 otherwise, 2 when something could not start.
"""

import argparse
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter, defaultdict
from datetime import datetime, timezone

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "tools"))

try:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient
except ImportError:
    print("soak: confluent_kafka is not installed: run this with .hark/venv/bin/python", file=sys.stderr)
    sys.exit(2)

from hark_run import call, free_port  # noqa: E402  (tests/tools)
from kafka_common import client_logger  # noqa: E402
from kafka_read import decode_text, decode_value  # noqa: E402

STAGES = ["ingest", "enrich", "route", "alert", "notify"]
HEADER_MENTION_ID = "hark-mention-id"  # crates/hark-core/src/topics.rs
HEADER_ROUTE_RULE = "hark-route-rule"
SECRET = "soak-receiver-secret-5d1c9e"
RECEIVER = "soak"
# A batch caught in a killed ingest holds its claims this long; a shorter TTL than the default
# (with the producer's timeout below it, as the config check requires) lets the retry through
# within seconds.
CLAIM_TTL_SECS = 30
MESSAGE_TIMEOUT_MS = 20000
READY_TIMEOUT_S = 60
# Processing that does not move for this long is not waited for any more.
STALL_S = 300
# Share of mentions by authors above the influencer rule's 100,000 followers, and of mentions
# whose engagement passes the viral rule's 10,000: enough for a steady trickle of alerts.
INFLUENCER_SHARE = 0.003
VIRAL_SHARE = 0.0008
INFLUENCERS = 200

# Faults at these shares of the mentions routed and alerted on, each at least FAULT_GAP_S after
# the one before (so the receiver stays down a while); each runs once, in order.
FAULT_GAP_S = 5
FAULTS = [
    (0.10, "scale_out", "one more enrich and one more route process"),
    (0.20, "kill_round", "SIGKILL one process of each stage (notify: the lease holder), start a replacement"),
    (0.35, "restart_redis", "Redis SIGTERM, started again on its port and AOF"),
    (0.45, "receiver_refuse", "receiver down: connections refused"),
    (0.55, "kill_round", "SIGKILL one process of each stage again (receiver still down)"),
    (0.65, "receiver_503", "receiver answers 503"),
    (0.80, "receiver_up", "receiver back"),
]


def log(msg):
    print(f"soak: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class NotStarted(Exception):
    """Something the soak needs could not start."""


class Stop(Exception):
    """SIGINT or SIGTERM: clean up and leave."""


# ---------------------------------------------------------------------------------------------
# Configuration


def toml_key(key):
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def dump_toml(doc):
    """TOML for the shapes Hark's config has: tables, arrays of tables, inline tables inside them."""
    lines = []

    def is_table_array(v):
        return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)

    def table(path, d):
        scalars = [(k, v) for k, v in d.items() if not isinstance(v, dict) and not is_table_array(v)]
        if path and (scalars or not d):
            lines.append(f"\n[{'.'.join(toml_key(p) for p in path)}]")
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in scalars)
        for k, v in d.items():
            if isinstance(v, dict):
                table(path + [k], v)
        for k, v in d.items():
            if is_table_array(v):
                for item in v:
                    lines.append(f"\n[[{'.'.join(toml_key(p) for p in path + [k])}]]")
                    lines.extend(f"{toml_key(ik)} = {toml_value(iv)}" for ik, iv in item.items())

    table([], doc)
    return "\n".join(lines).lstrip() + "\n"


def soak_config(run, redis_url, receiver_url):
    """deploy/hark.example.toml with this run's names, timings that fit a soak, one receiver."""
    with open(os.path.join(REPO, "deploy", "hark.example.toml"), "rb") as f:
        cfg = tomllib.load(f)
    cfg["kafka"]["client_id"] = run
    cfg["kafka"]["properties"] = {"message.timeout.ms": str(MESSAGE_TIMEOUT_MS)}
    cfg["topics"] = {
        "raw": f"hark.{run}.mentions.raw",
        "enriched": f"hark.{run}.mentions.enriched",
        "dlq": f"hark.{run}.mentions.dlq",
        "spam": f"hark.{run}.mentions.spam",
        "unmatched": f"hark.{run}.routed.unmatched",
        "routed_prefix": f"hark.{run}.routed.",
        "alerts": f"hark.{run}.alerts",
    }
    cfg["redis"] = {"url": redis_url, "key_prefix": f"hark:{run}:"}
    cfg["ingest"]["claim_ttl_secs"] = CLAIM_TTL_SECS
    cfg["enrich"]["group_id"] = f"hark-{run}-enrich"
    cfg["route"]["group_id"] = f"hark-{run}-route"
    cfg["alert"]["group_id"] = f"hark-{run}-alert"
    notify = cfg["notify"]
    notify.update({
        "group_id": f"hark-{run}-notify",
        "tick_ms": 200,
        "group_wait_secs": 1,
        "group_interval_secs": 2,
        # Past the run, so every notification carries news.
        "repeat_interval_secs": 7 * 86400,
    })
    notify["receivers"] = [{
        "name": RECEIVER,
        "kind": "webhook",
        "url": receiver_url,
        "secret": SECRET,
        "retry_initial_ms": 200,
        "retry_max_ms": 2000,
        "rate_limit_per_minute": 60000,
    }]
    notify["routes"] = [{"receiver": RECEIVER}]
    cfg["log"] = {"format": "text", "level": "info"}
    return cfg


def route_topics(cfg):
    """{label: topic} of every output of the route stage."""
    topics = {r["name"]: r.get("topic") or cfg["topics"]["routed_prefix"] + r["name"] for r in cfg["route"]["rules"]}
    topics["spam"] = cfg["topics"]["spam"]
    topics["unmatched"] = cfg["topics"]["unmatched"]
    return topics


# ---------------------------------------------------------------------------------------------
# The routes a mention must take, recomputed from its enrichment (crates/hark-route/src/lib.rs)


def _any_of(wanted, value):
    return not wanted or (value is not None and value.lower() in {w.lower() for w in wanted})


_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")


def _words(text):
    return [w for w in re.split(r"[^\w]|_", text.lower()) if w]


def _keyword_in(keyword, mode, text):
    """README, "Routing rules": whole words in order, `word*` a prefix, or (mode `substring`,
    and unspaced scripts) anywhere."""
    k = keyword.strip().lower()
    if not k or not any(c.isalnum() for c in k):
        return False
    if mode == "substring" or _UNSPACED.search(k):
        return k.rstrip("*") in text.lower()
    want, seen = _words(k), _words(text)
    prefix = k.endswith("*")
    for i in range(len(seen) - len(want) + 1):
        window = seen[i : i + len(want)]
        if window[:-1] == want[:-1] and (window[-1].startswith(want[-1]) if prefix else window[-1] == want[-1]):
            return True
    return False


def _rule_holds(when, value, text):
    m, e = value["mention"], value["enrichment"]
    by = m.get("ingested_by")
    followers = (m["author"].get("followers") or 0) if (by is None or by.get("trusted_author_metrics")) else 0
    brand_field = (m.get("brand") or "").strip().lower() or None
    canonical = e.get("brand") or brand_field
    brands = when.get("brands", [])
    spam = e["spam"]["score"]
    return (
        (_any_of(brands, canonical) or any(_any_of(brands, b["brand"]) for b in e.get("brands", [])))
        and _any_of(when.get("intents", []), e["intent"]["label"])
        and _any_of(when.get("tiers", []), e["influence"]["tier"])
        and ("offensive" not in when or e["offensive"]["is_offensive"] == when["offensive"])
        and _any_of(when.get("platforms", []), m["platform"])
        and _any_of(when.get("languages", []), e["lang"]["code"])
        and _any_of(when.get("sentiments", []), e["sentiment"]["label"])
        and ("min_spam_score" not in when or spam >= when["min_spam_score"])
        and ("max_spam_score" not in when or spam <= when["max_spam_score"])
        and ("min_followers" not in when or followers >= when["min_followers"])
        and ("max_followers" not in when or followers <= when["max_followers"])
        and (not when.get("keywords") or any(_keyword_in(k, when.get("keyword_match", "words"), text) for k in when["keywords"]))
    )


def expected_routes(cfg, value):
    """The labels of the topics an enriched mention goes to: spam alone, its rules, or unmatched."""
    if value["enrichment"]["spam"]["is_spam"]:
        return frozenset(["spam"])
    text = value["mention"]["text"].lower()
    labels = frozenset(r["name"] for r in cfg["route"]["rules"] if _rule_holds(r.get("when", {}), value, text))
    return labels or frozenset(["unmatched"])


# ---------------------------------------------------------------------------------------------
# The mentions


def base36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


FIRST = ["anna", "jonas", "maja", "erik", "sofia", "luca", "giulia", "marta", "piotr", "olga", "ivan", "li", "wei",
         "carmen", "pablo", "lea", "max", "chloe", "hugo", "sam", "rach", "kieran", "nina", "tom"]


class Stream:
    """The run's mentions, made in order from one seed. Demo texts with fresh ids, authors and
    timestamps from `span_s` before `end` up to `end`, in order, so event-time windows close.
    No author posts the same text twice (ingest would drop it as a duplicate): author
    a = 7919·n mod A posts text (a + n div A) mod T, distinct for each of its mentions."""

    def __init__(self, count, seed, span_s, end, texts):
        self.count = count
        self.rng = random.Random(seed)
        self.texts = texts
        self.order = list(range(len(texts)))
        self.rng.shuffle(self.order)
        self.salt = f"{self.rng.getrandbits(32):08x}"
        self.start = end - span_s
        self.step = span_s / max(count, 1)
        self.authors = max(1000, min(count // 3, 100_000))
        if self.authors % 7919 == 0:
            self.authors += 1
        # Heavy-tailed followers below the influencer rule's bound, one value per author.
        self.followers = [min(99_000, int(20 * self.rng.paretovariate(1.1))) for _ in range(self.authors)]
        self.influencer_followers = [int(10 ** self.rng.uniform(5.0, 6.6)) for _ in range(INFLUENCERS)]
        self.influencer_mentions = 0

    def mention_id(self, platform, n):
        if platform == "twitter":
            return str(1_900_000_000_000_000_000 + n)
        if platform == "reddit":
            return "t1_" + base36(36 ** 6 + n)
        if platform == "trustpilot":
            return f"{self.salt}{n:016x}"
        return str(10 ** 15 + n)

    def author(self, n):
        """(author, text index) of mention n."""
        rng = self.rng
        if rng.random() < INFLUENCER_SHARE:
            i = self.influencer_mentions
            self.influencer_mentions += 1
            a, k = i % INFLUENCERS, i // INFLUENCERS
            author = {"id": f"7{a:09d}", "handle": f"{FIRST[a % len(FIRST)]}_official{a}", "followers": self.influencer_followers[a]}
            return author, self.order[(a * 37 + k) % len(self.texts)]
        a = (n * 7919) % self.authors
        k = n // self.authors
        author = {"id": str(3_000_000_000 + a), "handle": f"{FIRST[a % len(FIRST)]}{a}", "followers": self.followers[a]}
        return author, self.order[(a + k) % len(self.texts)]

    def mention(self, n):
        """(stable id, NDJSON line) of mention n; call in order."""
        rng = self.rng
        author, t = self.author(n)
        base = self.texts[t]
        platform = base["platform"]
        text = base["text"]
        if platform in ("twitter", "instagram", "facebook", "weibo", "vk", "tiktok", "youtube") and rng.random() < 0.2:
            text = f"@{FIRST[rng.randrange(len(FIRST))]}{rng.randrange(10000)} {text}"
        created = self.start + n * self.step + rng.random() * self.step
        mid = self.mention_id(platform, n)
        mention = {
            "id": mid,
            "platform": platform,
            "text": text,
            "created_at": datetime.fromtimestamp(created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "author": author,
        }
        if rng.random() < 0.9:
            mention["url"] = f"https://example.com/{platform}/{mid}"
        if rng.random() < 0.88:
            mention["brand"] = base["brand"]
        if rng.random() < 0.15:
            mention["lang_hint"] = base["lang"]
        if rng.random() < VIRAL_SHARE:
            mention["engagement"] = {"likes": rng.randrange(10_000, 90_000), "shares": rng.randrange(3000), "comments": rng.randrange(2000)}
        else:
            mention["engagement"] = {"likes": int(rng.expovariate(1 / 6)), "shares": int(rng.expovariate(1)), "comments": int(rng.expovariate(1 / 2))}
        return f"{platform}:{mid}", json.dumps(mention, ensure_ascii=False).encode()


def load_texts():
    with open(os.path.join(REPO, "deploy", "demo", "texts.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------------------------------------
# Redis of the soak's own


class OwnRedis:
    """redis-server with AOF in `folder` on a free port, which the soak may restart."""

    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/"
        self.proc = None

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder,
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--logfile", "redis.log"]
        try:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise NotStarted(f"redis-server: {e}") from None
        deadline = time.monotonic() + 20
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise NotStarted(f"redis-server on port {self.port} did not answer (see {self.folder}/redis.log)")
            time.sleep(0.05)

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        """SIGTERM: Redis writes its AOF out and exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        self.start()


# ---------------------------------------------------------------------------------------------
# The webhook receiver


class Receiver:
    """Records each notification it answers 200 (id, body, whether the signature holds). Modes:
    up; refuse (the port is closed: connection refused); 503 (every request failed)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/hark"
        self.lock = threading.Lock()
        self.delivered = []  # (notification id, body bytes, parsed body, monotonic time, signature ok)
        self.answered_503 = 0
        self.last_request = time.monotonic()
        self.mode = "up"
        self.server = None
        self._serve()

    def _serve(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.last_request = time.monotonic()
                    if receiver.mode == "503":
                        receiver.answered_503 += 1
                        ok = False
                    else:
                        ok = True
                        try:
                            parsed = json.loads(body)
                        except ValueError:
                            parsed = {}
                        receiver.delivered.append((self.headers.get("x-hark-notification-id"), body, parsed,
                                                   time.monotonic(), receiver.signature_ok(self.headers, body)))
                self.send_response(200 if ok else 503)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok\n" if ok else b"down for maintenance\n")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def signature_ok(headers, body):
        stamp = headers.get("x-hark-timestamp") or ""
        given = headers.get("x-hark-signature") or ""
        want = "v1=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given, want)

    def set_mode(self, mode):
        if mode == "refuse" and self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        elif mode != "refuse" and self.server is None:
            self._serve()
        with self.lock:
            self.mode = mode

    def quiet_for(self):
        with self.lock:
            return time.monotonic() - self.last_request

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# ---------------------------------------------------------------------------------------------
# Hark's processes


class Proc:
    def __init__(self, stage, number, popen, listen, admin, log_path):
        self.stage, self.number, self.popen = stage, number, popen
        self.listen, self.admin, self.log_path = listen, admin, log_path
        self.name = f"{stage}-{number}"
        self.killed = False

    @property
    def pid(self):
        return self.popen.pid


class Fleet:
    """The running Hark processes, per stage; each has ports of its own (environment overrides)."""

    def __init__(self, hark, config_path, env, log_dir):
        self.hark, self.config_path, self.env, self.log_dir = hark, config_path, env, log_dir
        self.lock = threading.Lock()
        self.active = {stage: [] for stage in STAGES}
        self.all = []
        self.numbers = Counter()
        self.round_robin = 0
        self.crashed = []  # (name, exit code) of processes that ended without being killed
        self.closed = False

    def start(self, stage):
        upper = stage.upper()
        listen = f"127.0.0.1:{free_port()}"
        env = dict(self.env)
        env[f"HARK__{upper}__LISTEN"] = listen
        admin = None
        if stage in ("alert", "notify"):
            admin = f"127.0.0.1:{free_port()}"
            env[f"HARK__{upper}__ADMIN_LISTEN"] = admin
        if stage == "notify":
            env["HARK__NOTIFY__EXTERNAL_URL"] = f"http://{admin}"
        # Under the lock, so that stop_all never misses a process started while it runs.
        with self.lock:
            if self.closed:
                raise RuntimeError("the soak is stopping")
            self.numbers[stage] += 1
            number = self.numbers[stage]
            log_path = os.path.join(self.log_dir, f"{stage}-{number}.log")
            with open(log_path, "ab") as out:
                popen = subprocess.Popen([self.hark, "--config", self.config_path, stage], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            proc = Proc(stage, number, popen, listen, admin, log_path)
            self.active[stage].append(proc)
            self.all.append(proc)
        return proc

    def wait_ready(self, proc, timeout=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                return False
            if call("GET", f"http://{proc.listen}/readyz", timeout=2)[0] == 200:
                return True
            time.sleep(0.2)
        return False

    def kill(self, proc):
        proc.killed = True
        with self.lock:
            if proc in self.active[proc.stage]:
                self.active[proc.stage].remove(proc)
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.popen.wait()

    def procs(self, stage):
        with self.lock:
            return list(self.active[stage])

    def next_ingest(self):
        with self.lock:
            live = self.active["ingest"]
            if not live:
                return None
            self.round_robin += 1
            return live[self.round_robin % len(live)].listen

    def notify_lease_holder(self):
        """The notify process that holds the lease (GET /v1/outbox names it as <pid>-<random>:<token>)."""
        for proc in self.procs("notify"):
            status, body, _ = call("GET", f"http://{proc.admin}/v1/outbox", timeout=5)
            if status == 200:
                sender = (json.loads(body).get("sender") or "").split("-")[0]
                for candidate in self.procs("notify"):
                    if str(candidate.pid) == sender:
                        return candidate
        return None

    def reap_crashed(self):
        """Processes that ended on their own: recorded, replaced so K keep running."""
        for stage in STAGES:
            for proc in self.procs(stage):
                code = proc.popen.poll()
                if code is not None and not proc.killed:
                    proc.killed = True
                    with self.lock:
                        self.active[stage].remove(proc)
                    self.crashed.append((proc.name, code))
                    log(f"{proc.name} (pid {proc.pid}) exited on its own with {code}; starting a replacement")
                    if not self.closed:
                        self.start(stage)

    def stop_all(self):
        with self.lock:
            self.closed = True
            procs = [p for p in self.all if p.popen.poll() is None]
        for proc in procs:
            try:
                proc.popen.terminate()
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


# ---------------------------------------------------------------------------------------------
# Kafka: progress, lag, end offsets


class Broker:
    """Offsets without joining any of Hark's groups. End offsets come from fetch responses: the
    local broker answers ListOffsets(latest) with the base offset of the last record batch, not
    the log end offset, so a consumer that follows the topics' ends reports them instead."""

    def __init__(self, brokers):
        self.brokers = brokers
        self.admin = AdminClient({"bootstrap.servers": brokers})
        self.probe = self.consumer(f"hark-soak-probe-{os.getpid()}")
        self.group_consumers = {}
        self.partitions = {}
        self.tail = None

    def consumer(self, group):
        return Consumer({
            "bootstrap.servers": self.brokers,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "socket.connection.setup.timeout.ms": 5000,
            "fetch.wait.max.ms": 100,
        }, logger=client_logger("soak"))

    def partitions_of(self, topic):
        if topic not in self.partitions:
            meta = self.probe.list_topics(topic, timeout=10).topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                return []
            self.partitions[topic] = sorted(meta.partitions)
        return self.partitions[topic]

    def follow(self, topics):
        """Starts following the ends of `topics` (for end_offsets)."""
        self.tail = self.consumer(f"hark-soak-tail-{os.getpid()}")
        self.tail.assign([TopicPartition(t, p, OFFSET_END) for t in topics for p in self.partitions_of(t)])

    def end_offsets(self, topic):
        """{partition: log end offset} as the last fetch response said (followed topics only)."""
        deadline = time.monotonic() + 2
        while self.tail.consume(10000, 0.05) and time.monotonic() < deadline:
            pass  # what arrived is not needed: the fetch updates the high watermarks
        ends = {}
        for p in self.partitions_of(topic):
            high = self.tail.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1]
            if high < 0:
                raise KafkaException(f"no fetch answer yet for {topic}[{p}]")
            ends[p] = high
        return ends

    def committed(self, group, topic):
        if group not in self.group_consumers:
            self.group_consumers[group] = self.consumer(group)
        tps = [TopicPartition(topic, p) for p in self.partitions_of(topic)]
        if not tps:
            return {}
        return {tp.partition: max(tp.offset, 0) for tp in self.group_consumers[group].committed(tps, timeout=10)}

    def lag(self, group, topic):
        ends = self.end_offsets(topic)
        done = self.committed(group, topic)
        return sum(max(0, end - done.get(p, 0)) for p, end in ends.items())

    def delete_topics(self, prefix):
        names = [t for t in self.admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for future in (self.admin.delete_topics(names, operation_timeout=10).values() if names else []):
            future.result(timeout=15)
        return names

    def close(self):
        """Closes the consumers; the admin client stays for delete_topics."""
        for c in [self.probe, self.tail, *self.group_consumers.values()]:
            try:
                if c is not None:
                    c.close()
            except (KafkaException, RuntimeError):
                pass
        self.probe = self.tail = None
        self.group_consumers = {}


# ---------------------------------------------------------------------------------------------
# Sending


class Ledger:
    """What Hark answered for each mention, as the clients saw it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.accepted = set()
        self.duplicate_only = set()  # reported `duplicate` though no answer said `accepted`: an answer lost
        self.duplicate_replies = 0
        self.rejected = {}
        self.unconfirmed = set()
        self.requests = Counter()  # HTTP status (0: no answer) -> count
        self.resent_records = 0

    def done(self):
        with self.lock:
            return len(self.accepted) + len(self.duplicate_only) + len(self.rejected) + len(self.unconfirmed)

    def acknowledged(self):
        return self.accepted | self.duplicate_only


def post(address, body, timeout=120):
    """(status, parsed JSON answer or None); status 0 when no answer came."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", "/v1/mentions", body, {"content-type": "application/x-ndjson"})
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException):
        return 0, None, None
    finally:
        conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    return response.status, parsed, response.getheader("retry-after")


def send_batch(fleet, ledger, batch, stopping, posting, answered):
    """Posts one batch until every record is accepted, duplicate or rejected; resends only the
    records not dealt with (all of them when no answer came). Sets `posting` as a request
    goes out and `answered` when one was answered (the faults time their kills on them)."""
    pending = list(range(len(batch)))
    deadline = time.monotonic() + 4 * CLAIM_TTL_SECS + 120
    attempt = 0
    while pending and not stopping.is_set():
        attempt += 1
        address = fleet.next_ingest()
        if address is None:
            time.sleep(0.5)
            continue
        body = b"\n".join(batch[i][1] for i in pending) + b"\n"
        posting.set()
        status, report, retry_after = post(address, body)
        answered.set()
        with ledger.lock:
            ledger.requests[status] += 1
        if report is not None and isinstance(report.get("items"), list) and not report.get("items_omitted"):
            listed = {item["index"]: item for item in report["items"]}
            still = []
            with ledger.lock:
                for j, i in enumerate(pending):
                    sid = batch[i][0]
                    item = listed.get(j)
                    if item is None:
                        ledger.accepted.add(sid)
                        ledger.duplicate_only.discard(sid)
                    elif item["status"] == "duplicate":
                        ledger.duplicate_replies += 1
                        if sid not in ledger.accepted:
                            ledger.duplicate_only.add(sid)
                    elif item["status"] == "rejected":
                        ledger.rejected[sid] = f"{item.get('error_type')}: {item.get('reason')}"
                    else:
                        still.append(i)
                ledger.resent_records += len(still)
            pending = still
        else:
            with ledger.lock:
                ledger.resent_records += len(pending)
        if pending:
            if time.monotonic() > deadline:
                with ledger.lock:
                    ledger.unconfirmed.update(batch[i][0] for i in pending)
                log(f"gave up on {len(pending)} records after {attempt} tries (last answer HTTP {status})")
                return
            try:
                pause = float(retry_after) if retry_after else 0.5
            except ValueError:
                pause = 0.5
            time.sleep(min(5.0, pause * min(attempt, 4)))


class Sender:
    """A generator thread feeding batches to a few client threads; it waits while the clients
    are more than `max_backlog` mentions ahead of routing and alerting, and spreads the stream
    over at least `min_duration` seconds, so that every fault meets mentions in flight."""

    def __init__(self, stream, fleet, ledger, progress, clients, batch_size, max_backlog, min_duration):
        self.stream, self.fleet, self.ledger, self.progress = stream, fleet, ledger, progress
        self.clients, self.batch_size, self.max_backlog = clients, batch_size, max_backlog
        self.min_duration = min_duration
        self.paced_s = 0.0  # time spent waiting for the pace, not for Hark
        self.posting = threading.Event()
        self.answered = threading.Event()
        self.queue = []
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.ids = set()
        self.started_at = None
        self.finished_at = None

    def run(self):
        self.started_at = time.time()
        workers = [threading.Thread(target=self.client, daemon=True) for _ in range(self.clients)]
        for w in workers:
            w.start()
        n = 0
        began = time.monotonic()
        while n < self.stream.count and not self.stopping.is_set():
            due = began + self.min_duration * n / self.stream.count
            if time.monotonic() < due:
                self.paced_s += due - time.monotonic()
                self.stopping.wait(due - time.monotonic())
            self.wait_for_backlog()
            batch = []
            for _ in range(min(self.batch_size, self.stream.count - n)):
                sid, line = self.stream.mention(n)
                batch.append((sid, line))
                self.ids.add(sid)
                n += 1
            with self.ledger.lock:
                self.ledger.sent += len(batch)
            with self.cond:
                while len(self.queue) >= 2 * self.clients and not self.stopping.is_set():
                    self.cond.wait(0.5)
                self.queue.append(batch)
                self.cond.notify_all()
        with self.cond:
            self.queue.extend([None] * self.clients)
            self.cond.notify_all()
        for w in workers:
            w.join()
        self.finished_at = time.time()
        self.finished.set()

    def wait_for_backlog(self):
        """While the clients are too far ahead; a pipeline that stops moving for STALL_S is
        not waited for (the check then shows what it did not do)."""
        last, moved = -1, time.monotonic()
        while self.ledger.done() - self.progress.processed > self.max_backlog and not self.stopping.is_set():
            if self.progress.processed != last:
                last, moved = self.progress.processed, time.monotonic()
            elif time.monotonic() - moved > STALL_S:
                log(f"processing has not moved for {STALL_S}s; sending on regardless")
                return
            time.sleep(0.2)

    def client(self):
        while True:
            with self.cond:
                while not self.queue:
                    self.cond.wait(0.5)
                batch = self.queue.pop(0)
                self.cond.notify_all()
            if batch is None or self.stopping.is_set():
                return
            send_batch(self.fleet, self.ledger, batch, self.stopping, self.posting, self.answered)


class Progress:
    """Mentions routed and alerted on so far (committed offsets of those groups on the enriched
    topic), refreshed every second; also notices Hark processes that ended on their own."""

    def __init__(self, broker, fleet, cfg):
        self.broker, self.fleet, self.cfg = broker, fleet, cfg
        self.processed = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        enriched = self.cfg["topics"]["enriched"]
        while not self.stopping.is_set():
            try:
                route = sum(self.broker.committed(self.cfg["route"]["group_id"], enriched).values())
                alert = sum(self.broker.committed(self.cfg["alert"]["group_id"], enriched).values())
                self.processed = min(route, alert)
                self.fleet.reap_crashed()
            except Exception as e:  # the sender and the faults wait on this thread: it must go on
                log(f"progress: {e!r}")
            self.stopping.wait(1.0)

    def stop(self):
        self.stopping.set()
        self.thread.join()


# ---------------------------------------------------------------------------------------------
# Faults


class Faults:
    """Runs FAULTS in order as the share of mentions routed and alerted on passes each point."""

    def __init__(self, fleet, redis, receiver, progress, sender, total, seed):
        self.fleet, self.redis, self.receiver, self.progress, self.sender = fleet, redis, receiver, progress, sender
        self.total, self.rng = total, random.Random(seed + 1)
        self.events = []  # (wall time, share, what, details)
        self.failed = []  # faults that could not be injected
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.stopping = threading.Event()

    def share(self):
        return min(1.0, self.progress.processed / self.total)

    def note(self, what, details=""):
        self.events.append((time.time(), self.share(), what, details))
        log(f"fault at {self.share():.0%}: {what}{' (' + details + ')' if details else ''}")

    def wait_for(self, at):
        """Until `at` of the stream is processed, or processing stood still for STALL_S (a
        stuck pipeline must not hang the soak)."""
        last, moved = -1, time.monotonic()
        while self.share() < at and not self.stopping.is_set():
            if self.progress.processed != last:
                last, moved = self.progress.processed, time.monotonic()
            if time.monotonic() - moved > STALL_S:
                log(f"processing stands still at {self.share():.0%}; injecting the remaining faults")
                return
            time.sleep(0.1)

    def run(self):
        previous = 0.0
        for at, action, what in FAULTS:
            self.wait_for(at)
            self.stopping.wait(max(0.0, previous + FAULT_GAP_S - time.monotonic()))
            if self.stopping.is_set():
                return
            try:
                details = getattr(self, action)()
            except Exception as e:  # a fault that cannot be injected fails the run, it must not hang it
                self.failed.append(f"{what}: {e!r}")
                log(f"fault '{what}' failed: {e!r}")
                continue
            finally:
                previous = time.monotonic()
            self.note(what, details or "")

    def replace(self, proc):
        self.fleet.kill(proc)
        new = self.fleet.start(proc.stage)
        threading.Thread(target=self._ready_or_warn, args=(new,), daemon=True).start()
        return f"{proc.name} pid {proc.pid} -> {new.name} pid {new.pid}"

    def _ready_or_warn(self, proc):
        if not self.fleet.wait_ready(proc):
            log(f"{proc.name} (pid {proc.pid}) not ready within {READY_TIMEOUT_S}s; see {proc.log_path}")

    def scale_out(self):
        added = [self.fleet.start(stage) for stage in ("enrich", "route")]
        for proc in added:
            threading.Thread(target=self._ready_or_warn, args=(proc,), daemon=True).start()
        return ", ".join(f"{p.name} pid {p.pid}" for p in added)

    def kill_round(self):
        done = []
        for stage in STAGES:
            victims = self.fleet.procs(stage)
            if not victims or self.stopping.is_set():
                continue
            victim = (self.fleet.notify_lease_holder() if stage == "notify" else None) or self.rng.choice(victims)
            self.in_flight(stage)
            done.append(self.replace(victim))
            time.sleep(1.0)
        return "; ".join(done)

    def in_flight(self, stage):
        """Waits (2 s at most) for a moment when the stage likely holds work: ingest while a
        request is out, the others shortly after one was answered (its mentions are then on the
        way through), so that a kill finds a batch half done rather than an idle process."""
        event = self.sender.posting if stage == "ingest" else self.sender.answered
        event.clear()
        if event.wait(2.0):
            time.sleep(self.rng.uniform(0.0, 0.03 if stage == "ingest" else 0.2))

    def restart_redis(self):
        began = time.monotonic()
        self.redis.restart()
        return f"down {time.monotonic() - began:.1f}s"

    def receiver_refuse(self):
        self.receiver.set_mode("refuse")

    def receiver_503(self):
        self.receiver.set_mode("503")

    def receiver_up(self):
        self.receiver.set_mode("up")

    def before(self, wall):
        """The last fault that began before `wall` (seconds), for evidence."""
        earlier = [e for e in self.events if e[0] <= wall]
        if not earlier:
            return "before any fault"
        t, share, what, _ = earlier[-1]
        return f"{wall - t:.1f}s after '{what}' (at {share:.0%})"


# ---------------------------------------------------------------------------------------------
# Waiting for the pipeline to settle


def drain(broker, cfg, fleet, receiver, timeout, quiet_s):
    """Until the groups have no lag, the topics stop growing, the outbox is empty and the
    receiver has been quiet for `quiet_s`. True when it settled, False on timeout."""
    t = cfg["topics"]
    watched = [(cfg["enrich"]["group_id"], t["raw"]), (cfg["route"]["group_id"], t["enriched"]),
               (cfg["alert"]["group_id"], t["enriched"]), (cfg["notify"]["group_id"], t["alerts"])]
    topics = [t["raw"], t["enriched"], t["alerts"], t["dlq"], *route_topics(cfg).values()]
    broker.follow(topics)
    began = time.monotonic()
    deadline = began + timeout
    last, stable_since, shown = None, time.monotonic(), 0.0
    while time.monotonic() < deadline:
        fleet.reap_crashed()
        try:
            lags = {group.rsplit("-", 1)[-1]: broker.lag(group, topic) for group, topic in watched}
            ends = tuple(sum(broker.end_offsets(topic).values()) for topic in topics)
        except KafkaException as e:
            if time.monotonic() - began > 10:  # the first fetch answers take a moment
                log(f"drain: {e}")
            time.sleep(1)
            continue
        waiting = None
        for proc in fleet.procs("notify"):
            status, body, _ = call("GET", f"http://{proc.admin}/v1/outbox", timeout=5)
            if status == 200:
                waiting = json.loads(body).get("waiting", {}).get(RECEIVER)
                break
        state = (tuple(sorted(lags.items())), ends, waiting)
        if state != last:
            last, stable_since = state, time.monotonic()
        settled = not any(lags.values()) and waiting == 0
        if settled and time.monotonic() - stable_since >= quiet_s and receiver.quiet_for() >= quiet_s:
            return True
        if time.monotonic() - shown > 10:
            shown = time.monotonic()
            log(f"draining: lag {lags}, outbox {waiting}, stable {time.monotonic() - stable_since:.0f}s")
        time.sleep(1)
    return False


# ---------------------------------------------------------------------------------------------
# Reading the topics and checking


# What a legitimate re-produce may set anew: ingest's `ingested_at` (a retry after a crash
# between the broker's ack and the Redis commit) and enrich's `enriched_at` (a redelivery).
VOLATILE = re.compile(rb'"(?:ingested_at|enriched_at)":"[^"]*"')


def content_key(data):
    """A digest of a record's bytes without the volatile fields. Hark writes its JSON with a
    fixed field order, and a routed record is its enrichment byte for byte, so equal content
    means equal bytes here (a quote inside a text is escaped and cannot match VOLATILE)."""
    return hashlib.blake2b(VOLATILE.sub(b"", data or b""), digest_size=8).digest()


def read_topic(broker, topic, handle):
    """Calls handle(message) for every record of `topic`, from the start to the end offset the
    fetch responses report."""
    partitions = broker.partitions_of(topic)
    if not partitions:
        return 0
    consumer = broker.consumer(f"hark-soak-read-{os.getpid()}-{time.monotonic_ns()}")
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    next_offset = dict.fromkeys(partitions, 0)
    todo = set(partitions)
    count, idle_since = 0, time.monotonic()
    try:
        while todo:
            messages = consumer.consume(1000, 0.5)
            for msg in messages:
                if msg.error() is not None:
                    continue
                idle_since = time.monotonic()
                handle(msg)
                count += 1
                next_offset[msg.partition()] = msg.offset() + 1
            for p in list(todo):
                high = consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1]
                if high >= 0 and next_offset[p] >= high:
                    todo.discard(p)
            if not messages and time.monotonic() - idle_since > 60:
                raise RuntimeError(f"reading {topic}: nothing for 60s with partitions {sorted(todo)} unfinished")
    finally:
        consumer.close()
    return count


def headers_of(msg):
    return {name: decode_text(value) for name, value in (msg.headers() or [])}


class TopicTally:
    """Per topic: records, the first content and position of each id, and ids seen with other content."""

    def __init__(self, topic):
        self.topic = topic
        self.records = 0
        self.first = {}  # id -> (content key, partition, offset, broker time in s)
        self.conflicts = defaultdict(list)  # id -> [(partition, offset, time)]
        self.no_id = 0
        self.other = Counter()

    def add(self, sid, key, msg):
        self.records += 1
        if sid is None:
            self.no_id += 1
            return
        where = (msg.partition(), msg.offset(), msg.timestamp()[1] / 1000.0)
        seen = self.first.get(sid)
        if seen is None:
            self.first[sid] = (key, *where)
        elif seen[0] != key:
            self.conflicts[sid].append(where)

    @property
    def distinct(self):
        return len(self.first)


def check(broker, cfg, ledger, sent_ids, receiver, faults, coalesce_slack):
    """Reads every output topic and compares. Returns the table's rows (topic tally, lost,
    doubled), the route rows (also with unexpected), the alert figures, the problems, the
    evidence, and when the last new mention reached an output (broker time)."""
    t = cfg["topics"]
    routes = route_topics(cfg)
    acknowledged = ledger.acknowledged()
    problems, evidence = [], []

    def sample(ids, limit=5):
        return sorted(ids)[:limit]

    def where(tally, sid):
        if tally is None or sid not in tally.first:
            return "nowhere"
        _, p, off, ts = tally.first[sid]
        return f"{tally.topic}[{p}]@{off} {faults.before(ts)}"

    # raw
    raw = TopicTally(t["raw"])
    read_topic(broker, t["raw"], lambda m: raw.add(headers_of(m).get(HEADER_MENTION_ID), content_key(m.value()), m))
    raw_lost = acknowledged - raw.first.keys()
    raw_foreign = raw.first.keys() - sent_ids

    # enriched, and the routes each mention must take
    enriched = TopicTally(t["enriched"])
    must = {}
    route_sets = {}  # one copy of each set of labels: a million mentions share a handful

    def on_enriched(m):
        sid = headers_of(m).get(HEADER_MENTION_ID)
        enriched.add(sid, content_key(m.value()), m)
        if sid is not None and sid not in must:
            value = decode_value(m.value())
            if isinstance(value, dict) and "enrichment" in value:
                labels = expected_routes(cfg, value)
                must[sid] = route_sets.setdefault(labels, labels)

    read_topic(broker, t["enriched"], on_enriched)
    enriched_lost = raw.first.keys() - enriched.first.keys()

    # the dead letters
    dlq = TopicTally(t["dlq"])

    def on_dlq(m):
        h = headers_of(m)
        dlq.add(h.get(HEADER_MENTION_ID), b"", m)
        dlq.other[h.get("hark-dlq-error-type") or "?"] += 1

    read_topic(broker, t["dlq"], on_dlq)

    # the routes
    routed = {}
    for label, topic in routes.items():
        tally = TopicTally(topic)

        def on_routed(m, tally=tally, label=label):
            h = headers_of(m)
            sid = h.get(HEADER_MENTION_ID)
            tally.add(sid, content_key(m.value()), m)
            if h.get(HEADER_ROUTE_RULE) != label:
                tally.other["wrong hark-route-rule header"] += 1

        read_topic(broker, topic, on_routed)
        routed[label] = tally
    route_rows = []
    for label, tally in routed.items():
        expected = {sid for sid, labels in must.items() if label in labels}
        lost = expected - tally.first.keys()
        unexpected = tally.first.keys() - expected
        # A routed record is its enrichment byte for byte: other content is another enrichment.
        doubled = set(tally.conflicts) | {sid for sid, v in tally.first.items() if sid in enriched.first and v[0] != enriched.first[sid][0]}
        route_rows.append((tally, len(lost), len(doubled), len(unexpected)))
        if lost:
            problems.append(f"{len(lost)} mentions missing from {tally.topic}")
            evidence += [f"lost from {tally.topic}: {sid}, enriched at {where(enriched, sid)}" for sid in sample(lost)]
        if unexpected:
            problems.append(f"{len(unexpected)} mentions on {tally.topic} that its rule does not match")
            evidence += [f"unexpected on {tally.topic}: {sid}, routed at {where(tally, sid)}" for sid in sample(unexpected)]
        if doubled:
            problems.append(f"{len(doubled)} mentions on {tally.topic} with another content than their enrichment")
            evidence += [f"doubled on {tally.topic}: {sid}, first at {where(tally, sid)}" for sid in sample(doubled)]
        if tally.other:
            problems.append(f"{tally.topic}: {dict(tally.other)}")

    # mentions
    if raw_lost:
        problems.append(f"{len(raw_lost)} acknowledged mentions missing from raw")
        evidence += [f"lost before raw: {sid} (acknowledged {'as duplicate only' if sid in ledger.duplicate_only else 'accepted'})" for sid in sample(raw_lost)]
    if raw_foreign:
        problems.append(f"{len(raw_foreign)} ids on raw that were never sent")
    if enriched_lost:
        problems.append(f"{len(enriched_lost)} raw mentions missing from enriched")
        evidence += [f"lost before enriched: {sid}, raw at {where(raw, sid)}" for sid in sample(enriched_lost)]
    for tally in (raw, enriched):
        if tally.conflicts:
            problems.append(f"{len(tally.conflicts)} ids on {tally.topic} with two different contents")
            for sid in sample(tally.conflicts):
                p, off, ts = tally.conflicts[sid][0]
                evidence.append(f"doubled on {tally.topic}: {sid}, first at {where(tally, sid)}, other at [{p}]@{off} {faults.before(ts)}")
        if tally.no_id:
            problems.append(f"{tally.no_id} records on {tally.topic} without {HEADER_MENTION_ID}")
    if dlq.records:
        problems.append(f"{dlq.records} dead letters ({dict(dlq.other)}), though every mention sent is valid")
    if ledger.rejected:
        problems.append(f"{len(ledger.rejected)} mentions rejected by ingest, e.g. {next(iter(ledger.rejected.items()))}")
    if ledger.unconfirmed:
        problems.append(f"{len(ledger.unconfirmed)} mentions never confirmed by ingest (the client gave up)")

    # alerts and notifications
    transitions = {}  # (fingerprint, state, starts_at) -> first broker time (s)
    about = {}  # fingerprint -> rule and labels, for evidence
    alert_records = 0

    def on_alert(m):
        nonlocal alert_records
        alert_records += 1
        a = decode_value(m.value())
        if isinstance(a, dict) and "fingerprint" in a:
            key = (a["fingerprint"], a.get("state"), a.get("starts_at"))
            transitions.setdefault(key, m.timestamp()[1] / 1000.0)
            about[a["fingerprint"]] = f"{a.get('rule')} {a.get('labels', {})}"

    read_topic(broker, t["alerts"], on_alert)
    notes = notifications(transitions, receiver, coalesce_slack)
    if notes["lost"]:
        problems.append(f"{len(notes['lost'])} alert transitions never notified")
        evidence += [f"not notified: {k} ({about[k[0]]}), on the alerts topic {faults.before(transitions[k])}" for k in sorted(notes["lost"])[:5]]
    for fp, _, starts in sorted(k for k in notes["coalesced"] if k[1] == "firing")[:5]:
        fired, resolved = transitions[(fp, "firing", starts)], transitions[(fp, "resolved", starts)]
        notes["coalesced_shown"].append(f"{fp} ({about[fp]}) starts_at {starts}: fired, resolved {resolved - fired:.1f}s later;"
                                        f" fired {faults.before(fired)}")
    if notes["doubled"]:
        problems.append(f"{len(notes['doubled'])} notifications doubled (no news, or a resolution under a second id)")
        evidence += [f"doubled notification: {d}" for d in notes["doubled"][:5]]
    for what in ("invented", "same_id_other_body", "bad_signature"):
        if notes[what]:
            problems.append(f"notifications: {what.replace('_', ' ')}: {len(notes[what])}")
            evidence += [f"{what}: {x}" for x in list(notes[what])[:5]]

    rows = [
        (raw, len(raw_lost), len(raw.conflicts)),
        (enriched, len(enriched_lost), len(enriched.conflicts)),
        *[(tally, lost, doubled) for tally, lost, doubled, _ in route_rows],
        (dlq, 0, 0),
    ]
    last_output = max((v[3] for tally in [enriched, *routed.values()] for v in tally.first.values()), default=None)
    return rows, route_rows, (alert_records, transitions, notes), problems, evidence, last_output


def notifications(transitions, receiver, slack):
    """Compares the alert transitions with what the receiver got (see the docstring)."""
    with receiver.lock:
        delivered = list(receiver.delivered)
        answered_503 = receiver.answered_503
    first_body, order, same_id_other_body, bad_signature = {}, [], [], []
    for nid, body, parsed, _, sig_ok in delivered:
        if not sig_ok:
            bad_signature.append(nid)
        if nid in first_body:
            if first_body[nid] != body:
                same_id_other_body.append(nid)
            continue
        first_body[nid] = body
        order.append((nid, parsed))
    news_of = {}  # transition -> the notification id that first carried it
    doubled = {}  # notification id -> why
    for nid, parsed in order:
        carried = [(a.get("fingerprint"), a.get("state"), a.get("starts_at")) for a in parsed.get("alerts", [])]
        news = [k for k in carried if k not in news_of]
        again = [k for k in carried if k[1] == "resolved" and k in news_of]
        if again:
            doubled[nid] = f"{nid} resolves again what {news_of[again[0]]} resolved: {again}"
        elif not news:
            doubled[nid] = f"{nid} brings no news: {carried}"
        for k in news:
            news_of[k] = nid
    lost, coalesced = set(), set()
    for key, at in transitions.items():
        if key in news_of:
            continue
        fp, state, starts = key
        twin = (fp, "resolved" if state == "firing" else "firing", starts)
        if twin in transitions and twin not in news_of and abs(transitions[twin] - at) <= slack:
            coalesced.add(key)
        else:
            lost.add(key)
    return {
        "requests": len(delivered) + answered_503,
        "delivered_requests": len(delivered),
        "ids": len(first_body),
        "redeliveries": len(delivered) - len(first_body),
        "delivered": len(news_of),
        "coalesced": coalesced,
        "coalesced_shown": [],
        "lost": lost,
        "doubled": list(doubled.values()),
        "invented": set(news_of) - set(transitions),
        "same_id_other_body": same_id_other_body,
        "bad_signature": bad_signature,
        "answered_503": answered_503,
    }


# ---------------------------------------------------------------------------------------------
# The report


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{len(os.sched_getaffinity(0))} CPUs (nproc), {model}, {mem} memory"


def log_findings(fleet):
    """Per process: panics and ERROR lines in its log (a SIGKILLed process leaves no trace there)."""
    found = []
    for proc in fleet.all:
        try:
            with open(proc.log_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        panics = text.count("panicked")
        errors = sum(1 for line in text.splitlines() if " ERROR " in line)
        if panics or errors:
            found.append(f"{proc.name}: {panics} panics, {errors} ERROR lines ({proc.log_path})")
    return found


def report(args, cfg, run, version, ledger, sender, faults, fleet, drained, checked, elapsed):
    rows, route_rows, (alert_records, transitions, notes), problems, evidence, last_output = checked
    n = lambda x: f"{x:,}"  # noqa: E731
    out = []
    out.append(f"Hark soak {run}: {n(args.mentions)} mentions, {args.processes} process{'es' if args.processes > 1 else ''} per stage,"
               f" {args.clients} clients posting batches of {args.batch}")
    out.append(f"machine: {machine()}")
    out.append(f"hark:    {version} ({args.hark})")
    out.append(f"command: {' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])}")
    out.append("")
    out.append("faults (seconds from the first post, share of mentions routed and alerted on):")
    for wall, share, what, details in faults.events:
        out.append(f"  {wall - sender.started_at:7.1f}s  {share:4.0%}  {what}{'  [' + details + ']' if details else ''}")
    if fleet.crashed:
        out.append(f"  processes that ended on their own: {fleet.crashed}")
    out.append("")
    acked = ledger.acknowledged()
    out.append("mentions")
    out.append(f"  sent {n(ledger.sent)}   accepted {n(len(ledger.accepted))}   duplicates reported {n(ledger.duplicate_replies)}"
               f"   (of which accepted in an answer the client never got: {n(len(ledger.duplicate_only))})"
               f"   rejected {n(len(ledger.rejected))}   unconfirmed {n(len(ledger.unconfirmed))}")
    requests = ", ".join(f"{'no answer' if k == 0 else 'HTTP ' + str(k)}: {v}" for k, v in sorted(ledger.requests.items()))
    out.append(f"  requests: {requests}; records resent {n(ledger.resent_records)}")
    out.append("")
    out.append(f"  {'topic':<48} {'records':>10} {'distinct ids':>13} {'redeliveries':>13} {'lost':>6} {'doubled':>8}")
    for tally, lost, doubled in rows:
        redeliveries = tally.records - tally.distinct - tally.no_id
        out.append(f"  {tally.topic:<48} {n(tally.records):>10} {n(tally.distinct):>13} {n(redeliveries):>13} {n(lost):>6} {n(doubled):>8}")
    wrong = sum(u for _, _, _, u in route_rows)
    out.append(f"  mentions on a route their enrichment does not call for: {wrong}")
    distinct_transitions = len(transitions)
    out.append(f"  {cfg['topics']['alerts']:<48} {n(alert_records):>10} {n(distinct_transitions):>13} {n(alert_records - distinct_transitions):>13}"
               "   (distinct: fingerprint + state + starts_at)")
    out.append("")
    firing = sum(1 for k in transitions if k[1] == "firing")
    out.append("notifications (webhook receiver)")
    out.append(f"  alert transitions expected {n(distinct_transitions)} ({n(firing)} firing, {n(distinct_transitions - firing)} resolved);"
               f" delivered {n(notes['delivered'])}; fired and resolved between two flushes, by design not notified {n(len(notes['coalesced']))};"
               f" lost {n(len(notes['lost']))}; doubled {n(len(notes['doubled']))}")
    out.append(f"  requests {n(notes['requests'])} (503 answered {n(notes['answered_503'])}); notifications {n(notes['ids'])};"
               f" redeliveries (same id again) {n(notes['redeliveries'])}; bad signatures {len(notes['bad_signature'])}")
    out.extend(f"  not notified by design: {c}" for c in notes["coalesced_shown"])
    out.append("")
    e2e = (last_output - sender.started_at) if last_output else None
    send_s = sender.finished_at - sender.started_at
    out.append(f"throughput: {n(len(acked))} mentions acknowledged in {send_s:.1f}s of sending ({len(acked) / send_s:,.0f}/s);"
               + (f" end to end (first post to last enriched or routed record) {e2e:.1f}s = {len(acked) / e2e:,.0f} mentions/s" if e2e else ""))
    if sender.paced_s > send_s / 2:
        out.append(f"  (paced to last at least --min-duration {args.min_duration:.0f}s, {sender.paced_s:.0f}s of waiting:"
                   " these rates are the pace, not Hark's capacity)")
    elif sender.paced_s > 1:
        out.append(f"  (--min-duration {args.min_duration:.0f}s pacing waited {sender.paced_s:.0f}s of the {send_s:.0f}s:"
                   " the rates are partly the pace; --min-duration 0 measures Hark alone)")
    out.append(f"wall time: {elapsed:.0f}s" + ("" if drained else "; the pipeline did NOT settle before --drain-timeout"))
    findings = log_findings(fleet)
    if findings:
        out.append("process logs:")
        out.extend(f"  {f}" for f in findings)
    if not drained:
        problems.append("the pipeline did not settle (lag, outbox or receiver) within --drain-timeout")
    if fleet.crashed:
        problems.append(f"processes ended on their own: {fleet.crashed}")
    problems.extend(f"fault not injected: {f}" for f in faults.failed)
    if distinct_transitions == 0:
        out.append("note: no alert fired, so the notification check proved nothing")
    out.append("")
    if problems:
        out.append("FAIL")
        out.extend(f"  - {p}" for p in problems)
        if evidence:
            out.append("evidence:")
            out.extend(f"  {e}" for e in evidence)
    else:
        out.append("PASS: nothing lost, nothing doubled (mentions, routes, notifications)")
    print("\n".join(out), flush=True)
    return 1 if problems else 0


# ---------------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hark", default=os.path.join(REPO, "target", "release", "hark"), help="the hark binary (default: target/release/hark)")
    p.add_argument("--mentions", type=int, default=1_000_000, help="mentions to send (default 1,000,000)")
    p.add_argument("--processes", type=int, default=2, help="processes per stage at the start (default 2)")
    p.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (default 4)")
    p.add_argument("--batch", type=int, default=1000,
                   help="mentions per request (default 1000, at most ingest.max_reported_items; smaller when --min-duration paces the stream)")
    p.add_argument("--span-hours", type=float, default=3.0, help="the mentions' timestamps cover this many past hours (default 3)")
    p.add_argument("--max-backlog", type=int, default=None, help="mentions the clients may be ahead of routing and alerting (default max(5000, N/20))")
    p.add_argument("--min-duration", type=float, default=90,
                   help="spread the stream over at least this many seconds, so that every fault meets a moving stream"
                        " (default 90; 0 for a throughput figure)")
    p.add_argument("--seed", type=int, default=1, help="seed of the stream and of the fault victims (default 1)")
    p.add_argument("--no-faults", action="store_true", help="no faults: a baseline")
    p.add_argument("--drain-timeout", type=float, default=900, help="seconds to wait for the pipeline to settle (default 900)")
    p.add_argument("--coalesce-slack", type=float, default=30, help="an alert that fired and resolved within this many seconds may go unnotified (default 30)")
    p.add_argument("--logs", help="keep Hark's and Redis's logs in this folder (default: a temporary one, removed)")
    p.add_argument("--keep-topics", action="store_true", help="leave the run's topics on the broker")
    args = p.parse_args()
    if args.mentions < 1 or args.processes < 1 or args.clients < 1 or not 1 <= args.batch <= 1000:
        p.error("--mentions, --processes, --clients must be >= 1 and --batch within 1..1000")
    if args.max_backlog is None:
        args.max_backlog = max(5000, args.mentions // 20)
    # A paced stream goes out in smaller batches, two a second at least, so that a fault finds
    # work in flight rather than processes idle between batches.
    if args.min_duration > 0:
        args.batch = max(50, min(args.batch, int(args.mentions / args.min_duration / 2)))
    return args


def on_signal(_signum, _frame):
    raise Stop()


def main():
    args = parse_args()
    if not os.access(args.hark, os.X_OK):
        log(f"{args.hark} is not an executable")
        return 2
    # Also SIGINT: a shell starts background jobs with it ignored, and Ctrl-C must clean up.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    began = time.monotonic()
    run = f"soak-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    work = tempfile.mkdtemp(prefix="hark-soak-")
    log_dir = os.path.abspath(args.logs) if args.logs else os.path.join(work, "logs")
    os.makedirs(log_dir, exist_ok=True)
    brokers = os.environ.get("HARK__KAFKA__BROKERS", "127.0.0.1:9092")
    redis = OwnRedis(os.path.join(work, "redis"))
    os.makedirs(redis.folder)
    receiver = Receiver()
    fleet = broker = progress = sender = faults = None
    try:
        redis.start()
        cfg = soak_config(run, redis.url, receiver.url)
        config_path = os.path.join(work, "hark.toml")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(dump_toml(cfg))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARK_")}
        env["HARK__KAFKA__BROKERS"] = brokers
        checked = subprocess.run([args.hark, "--config", config_path, "config"], env=env, capture_output=True, text=True)
        if checked.returncode != 0:
            raise NotStarted(f"hark refuses the soak's config: {checked.stderr.strip()}")
        version = subprocess.run([args.hark, "--version"], capture_output=True, text=True).stdout.strip()
        try:
            broker = Broker(brokers)
            broker.admin.list_topics(timeout=10)
        except KafkaException as e:
            raise NotStarted(f"the broker at {brokers}: {e}") from None
        log(f"run {run}: Redis {redis.url}, broker {brokers}, receiver {receiver.url}, logs {log_dir}")

        fleet = Fleet(args.hark, config_path, env, log_dir)
        started = [fleet.start(stage) for stage in STAGES for _ in range(args.processes)]
        for proc in started:
            if not fleet.wait_ready(proc):
                raise NotStarted(f"{proc.name} not ready within {READY_TIMEOUT_S}s; see {proc.log_path}")
        log(f"{len(started)} processes ready")

        stream = Stream(args.mentions, args.seed, args.span_hours * 3600, time.time() - 300, load_texts())
        ledger = Ledger()
        progress = Progress(broker, fleet, cfg)
        progress.thread.start()
        sender = Sender(stream, fleet, ledger, progress, args.clients, args.batch, args.max_backlog, args.min_duration)
        faults = Faults(fleet, redis, receiver, progress, sender, args.mentions, args.seed)
        sending = threading.Thread(target=sender.run, daemon=True)
        sending.start()
        if not args.no_faults:
            faults.thread.start()
        shown = 0.0
        while not sender.finished.wait(1.0):
            if time.monotonic() - shown >= 10:
                shown = time.monotonic()
                log(f"sent {ledger.sent:,}, acknowledged {ledger.done():,}, routed and alerted on {progress.processed:,}")
        if not args.no_faults:
            faults.thread.join()
        # The receiver must be back whatever happened, or nothing drains.
        receiver.set_mode("up")
        log(f"all {ledger.sent:,} mentions dealt with in {sender.finished_at - sender.started_at:.1f}s; draining")
        progress.stop()
        quiet = max(10, 3 * cfg["notify"]["group_interval_secs"])
        drained = drain(broker, cfg, fleet, receiver, args.drain_timeout, quiet)
        log("reading every output topic")
        result = check(broker, cfg, ledger, sender.ids, receiver, faults, args.coalesce_slack)
        return report(args, cfg, run, version, ledger, sender, faults, fleet, drained, result, time.monotonic() - began)
    except NotStarted as e:
        log(str(e))
        return 2
    except (KeyboardInterrupt, Stop):
        log("interrupted; cleaning up")
        return 130
    finally:
        for part in (sender, faults, progress):
            if part is not None:
                part.stopping.set()
        if fleet is not None:
            fleet.stop_all()
        receiver.stop()
        redis.stop()
        if broker is not None:
            # Consumers first: one still assigned to a topic being deleted can crash librdkafka.
            broker.close()
            if not args.keep_topics:
                try:
                    broker.delete_topics(f"hark.{run}.")
                except Exception as e:  # the broker's errors come in many types; leftovers are harmless
                    log(f"the run's topics stay (hark.{run}.*): {e}")
        shutil.rmtree(work, ignore_errors=True)
        log(f"cleaned up ({time.monotonic() - began:.0f}s in all)")


if __name__ == "__main__":
    sys.exit(main())
