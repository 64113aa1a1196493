"""Running a hark process for a check: names, ports and environment of the run's own, the
process itself, a webhook receiver, HTTP calls, waiting, and the clean-up afterwards.

A check gives its run an id (`run_id`); from it come the run's topics (`hark.<run>.*`), consumer
groups (`hark-<run>-<stage>`) and Redis keys (`hark:<run>:*`), as `deploy/local.sh demo` names
them, so that runs beside each other and beside the tests share nothing. `hark_env` puts them,
and the listeners' addresses, into the environment overrides `HARK__SECTION__KEY`; the config
file stays free to say what the check is about. `clean_up_run` deletes what the run left.

Only the standard library is imported at the top: prometheus_check.py runs under the system
Python, which has no confluent-kafka (topics are then left behind, with a line that says so).
"""

import http.client
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import namedtuple

DEFAULT_BROKERS = "127.0.0.1:9092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/"
TOPICS = ("raw", "enriched", "dlq", "spam")
STAGES = ("enrich", "route", "alert", "notify")


def logger(name):
    """log(message) for a tool: `name: message` on stderr, flushed, so that it interleaves with
    the output of the processes the tool starts."""

    def log(message):
        print(f"{name}: {message}", file=sys.stderr, flush=True)

    return log


class Failure(Exception):
    """Something that must hold does not."""


class NotStarted(Exception):
    """Something the check needs could not start."""


# ---------------------------------------------------------------------------------------------
# Names and ports of the run's own


def run_id(kind):
    """A run id no other run has: the kind of check, the time and the process id."""
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def redis_prefix(run):
    return f"hark:{run}:"


def topic_prefix(run):
    return f"hark.{run}."


_GIVEN_PORTS = set()
_PORTS_LOCK = threading.Lock()


def free_port():
    """A port nothing listens on now, handed out once per process, from below the kernel's
    ephemeral range: a port there can be taken by any outgoing connection (Hark's own Kafka and
    Redis clients) before Hark binds it, or while a server of the run is down."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            below = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        below = 32768
    with _PORTS_LOCK:
        while True:
            port = random.randrange(1024, max(below, 2048))
            if port in _GIVEN_PORTS:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _GIVEN_PORTS.add(port)
            return port


def free_addresses(count):
    """`count` distinct 127.0.0.1:port addresses, for the listeners of one run."""
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    return [f"127.0.0.1:{port}" for port in sorted(ports)]


def broker_and_redis():
    """The broker and Redis the caller names (HARK__KAFKA__BROKERS, HARK__REDIS__URL), or the
    ones of deploy/local.sh."""
    return os.environ.get("HARK__KAFKA__BROKERS", DEFAULT_BROKERS), os.environ.get("HARK__REDIS__URL", DEFAULT_REDIS_URL)


def hark_env(run, listen=None, admin=None, extra=None, inherit_hark=True):
    """The environment of a hark of this run: the caller's broker and Redis, the run's topics,
    groups and Redis keys, the ingest and admin listeners, then `extra`. With inherit_hark=False
    the caller's other HARK__ settings are dropped, so that they cannot change what is tested."""
    env = {k: v for k, v in os.environ.items() if inherit_hark or not k.startswith("HARK__")}
    env["HARK__KAFKA__BROKERS"], env["HARK__REDIS__URL"] = broker_and_redis()
    env["HARK__REDIS__KEY_PREFIX"] = redis_prefix(run)
    for topic in TOPICS:
        env[f"HARK__TOPICS__{topic.upper()}"] = f"{topic_prefix(run)}mentions.{topic}"
    env["HARK__TOPICS__UNMATCHED"] = f"{topic_prefix(run)}routed.unmatched"
    env["HARK__TOPICS__ROUTED_PREFIX"] = f"{topic_prefix(run)}routed."
    env["HARK__TOPICS__ALERTS"] = f"{topic_prefix(run)}alerts"
    for stage in STAGES:
        env[f"HARK__{stage.upper()}__GROUP_ID"] = f"hark-{run}-{stage}"
    if listen:
        env["HARK__INGEST__LISTEN"] = listen
    if admin:
        env["HARK__INGEST__ADMIN_LISTEN"] = admin
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------------------------
# HTTP


def call(method, url, body=None, headers=None, timeout=10):
    """(status, body text, headers); a refused connection, or one that broke, is status 0."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace"), response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), e.headers
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return 0, "", {}


def get_json(url):
    status, body, _ = call("GET", url)
    if status != 200:
        raise Failure(f"GET {url}: HTTP {status} {body[:300]}")
    return json.loads(body)


def wait_for(what, check, deadline_s, proc=None, proc_name="hark", interval_s=0.5):
    """Polls check() until it returns a true value (returned), the deadline passes or proc exits."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = check()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise Failure(f"{what}: {proc_name} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {deadline_s}s")
        time.sleep(interval_s)


# ---------------------------------------------------------------------------------------------
# The hark process


def start_hark(binary, config_path, env, log_path, command="all", cwd=None):
    """`binary --config config_path command`, its output in log_path."""
    with open(log_path, "wb") as out:
        return subprocess.Popen([str(binary), "--config", str(config_path), command], env=env, cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT)


def wait_ready(proc, addresses, deadline_s):
    """Waits until /readyz answers 200 on every address (each listener reports on its own)."""
    for address in addresses:
        wait_for(f"/readyz on {address}", lambda a=address: call("GET", f"http://{a}/readyz")[0] == 200, deadline_s, proc)


def stop_process(proc, timeout=15):
    """SIGTERM, so that it shuts down as in production; SIGKILL when it takes longer than timeout."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path, lines=20):
    """The last lines of a log, indented to stand apart from the tool's own lines."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "\n".join("    " + line for line in f.read().splitlines()[-lines:])
    except OSError:
        return "    (no log)"


# ---------------------------------------------------------------------------------------------
# The webhook receiver

Request = namedtuple("Request", "path notification_id headers body status")


class WebhookReceiver:
    """Takes Hark's webhook POSTs on a port of its own, in a thread of its own, and records each.
    answer(path) gives the status to answer: 200 delivers; 400 refuses, and Hark does not retry a
    400, so the delivery is a dead letter at once. answer may be replaced while it runs."""

    def __init__(self, answer=lambda path: 400, port=0):
        self.answer = answer
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status = receiver.answer(self.path)
                with receiver.lock:
                    receiver.requests.append(Request(self.path, self.headers.get("x-hark-notification-id"), self.headers, body, status))
                text = b"ok\n" if status < 300 else b"refused\n"
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass  # the check says what matters; a line per request would bury it

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path="/hooks/hark"):
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self):
        with self.lock:
            return [r for r in self.requests if r.status < 300]

    def refused(self):
        with self.lock:
            return [r for r in self.requests if r.status >= 300]

    def accepted_ids(self):
        return [r.notification_id for r in self.accepted()]

    def accepted_body(self, notification_id):
        """The JSON body of the accepted request with this notification id ({} if none)."""
        bodies = [r.body for r in self.accepted() if r.notification_id == notification_id]
        try:
            return json.loads(bodies[0]) if bodies else {}
        except ValueError:
            return {}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------------------------
# Clean-up


def clean_up_run(run, log):
    """Deletes the run's Redis keys and topics; what cannot be deleted is only left behind (said
    on stderr): the check's verdict stands either way."""
    brokers, redis_url = broker_and_redis()
    try:
        delete_redis_keys(redis_url, redis_prefix(run))
    except (OSError, ValueError) as e:
        log(f"the run's Redis keys stay ({redis_prefix(run)}*): {e}")
    try:
        delete_topics(brokers, topic_prefix(run))
    except ImportError:
        log(f"the run's topics stay ({topic_prefix(run)}*): confluent-kafka is not installed (.hark/venv/bin/python has it)")
    except Exception as e:  # the broker's errors come in many types; leftovers are harmless
        log(f"the run's topics stay ({topic_prefix(run)}*): {e}")


def delete_topics(brokers, prefix):
    """Deletes the topics whose names start with prefix; returns their names."""
    from confluent_kafka.admin import AdminClient  # here, not at the top: the system Python lacks it

    client = AdminClient({"bootstrap.servers": brokers})
    topics = [t for t in client.list_topics(timeout=10).topics if t.startswith(prefix)]
    for future in client.delete_topics(topics, operation_timeout=10).values() if topics else []:
        future.result(timeout=15)
    return topics


def delete_redis_keys(url, prefix):
    """SCAN and DEL over a plain redis:// connection (no Redis client in the venv, and redis-cli
    need not be installed)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "redis" or parsed.password:
        raise ValueError("only a plain redis:// URL without a password is cleaned up")
    db = (parsed.path or "/0").strip("/") or "0"
    with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=5) as s:
        reader = s.makefile("rb")

        def command(*args):
            s.sendall(b"".join([f"*{len(args)}\r\n".encode()] + [f"${len(str(a).encode())}\r\n{a}\r\n".encode() for a in args]))
            return reply()

        def reply():
            line = reader.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b"-":
                raise ValueError(rest.decode())
            if kind in (b"+", b":"):
                return rest.decode()
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else reader.read(n + 2)[:-2].decode()
            if kind == b"*":
                return [reply() for _ in range(int(rest))]
            raise ValueError(f"unexpected Redis reply {line!r}")

        command("SELECT", db)
        cursor = "0"
        while True:
            cursor, keys = command("SCAN", cursor, "MATCH", f"{prefix}*", "COUNT", "500")
            if keys:
                command("DEL", *keys)
            if cursor == "0":
                return
