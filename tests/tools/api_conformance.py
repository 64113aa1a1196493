#!/usr/bin/env python3
"""Checks Hark's HTTP APIs against their OpenAPI document, proto/openapi.json, with schemathesis.

    .hark/venv/bin/python tests/tools/api_conformance.py target/debug/hark

Starts `HARK_BINARY --config <own toml> all` with topics, Redis keys, consumer groups and ports
of its own (the broker and Redis of deploy/local.sh, or HARK__KAFKA__BROKERS and HARK__REDIS__URL),
with an ingest and an admin token configured and a webhook receiver that refuses everything, so
that the admin API has an alert, a silence and a dead letter to list. Then schemathesis tests the
ingest operations on the ingest listener and the admin and observability operations on the admin
listener, from the file, and again from the `/openapi.json` each listener serves. Checks:
not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, response_headers_conformance. A fixed seed and a bounded number of
examples per operation keep it reproducible and under two minutes.

Before anything starts it checks that the topic contracts embedded in the document are those of
proto/ (mention.v1, enriched.v1, alert.v1).

Exit status: 0 when every run passed; 1 when a check failed (schemathesis's report says which
request); 2 when Hark could not be started or the document is inconsistent.

This file is also the schemathesis hooks module of the runs (SCHEMATHESIS_HOOKS): it teaches
schemathesis to send the NDJSON media types ingest takes.
"""

import argparse
import datetime
import http.server
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")

if __name__ != "__main__":
    # Loaded by schemathesis as its hooks module: NDJSON bodies are documented as strings and go
    # on the wire as they are.
    import schemathesis

    @schemathesis.serializer(*NDJSON_TYPES)
    def _ndjson(_ctx, value):
        return value if isinstance(value, bytes) else str(value).encode("utf-8")


REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "proto" / "openapi.json"
EXAMPLE_CONFIG = REPO / "deploy" / "hark.example.toml"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"
INGEST_SECRET = "conformance-ingest-0123456789abcdef"
ADMIN_SECRET = "conformance-admin-0123456789abcdef"


def log(message):
    print(f"api_conformance: {message}", file=sys.stderr, flush=True)


class Failed(Exception):
    """Hark or its surroundings could not be set up: exit 2."""


# ---- the document ----------------------------------------------------------------------------


def embedded_contracts_problems(document):
    """Differences between the contracts embedded in the document and proto/'s files."""

    def stripped(name):
        schema = json.loads((REPO / "proto" / f"{name}.schema.json").read_text())
        schema.pop("$schema", None)
        schema.pop("$id", None)
        return schema

    def refs_to_components(node):
        if isinstance(node, dict):
            return {
                k: "#/components/schemas/mention_v1" if (k, v) == ("$ref", "#/$defs/mention_v1") else refs_to_components(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [refs_to_components(v) for v in node]
        return node

    enriched = stripped("enriched.v1")
    enriched.pop("$defs", None)
    expected = {"mention_v1": stripped("mention.v1"), "enriched_v1": refs_to_components(enriched), "alert_v1": stripped("alert.v1")}
    problems = []
    components = document.get("components", {}).get("schemas", {})
    for name, schema in expected.items():
        embedded = dict(components.get(name, {}))
        embedded.pop("$comment", None)
        if embedded != schema:
            problems.append(f"components.schemas.{name} differs from proto/{name.replace('_', '.')}.schema.json")
    return problems


# ---- Hark and what it needs ------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RefusingReceiver:
    """A webhook receiver that answers 400 to everything: its deliveries become dead letters."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"error": "refused by the conformance test"}'
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write_config(path, receiver_url):
    """The example config, with tokens, a refusing receiver and a route to it added."""
    extra = f"""

# Added by tests/tools/api_conformance.py.
[[auth.tokens]]
name = "conformance-ingest"
kind = "ingest"
token_env = "HARK_CONFORMANCE_INGEST_TOKEN"
requests_per_sec = 1000
burst = 1000

[[auth.tokens]]
name = "conformance-admin"
kind = "admin"
token_env = "HARK_CONFORMANCE_ADMIN_TOKEN"

[[notify.receivers]]
name = "refusing"
kind = "webhook"
url = "{receiver_url}"
secret = "conformance-webhook-secret"

[[notify.routes]]
receiver = "refusing"
"""
    path.write_text(EXAMPLE_CONFIG.read_text() + extra)


def hark_env(run, ingest, admin):
    # Only the broker and Redis are taken from the caller; other HARK__ settings would change what is tested.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARK__")}
    env.update(
        {
            "HARK__KAFKA__BROKERS": os.environ.get("HARK__KAFKA__BROKERS", "127.0.0.1:9092"),
            "HARK__REDIS__URL": os.environ.get("HARK__REDIS__URL", "redis://127.0.0.1:6379/"),
            "HARK__REDIS__KEY_PREFIX": f"hark:{run}:",
            "HARK__INGEST__LISTEN": ingest,
            "HARK__INGEST__ADMIN_LISTEN": admin,
            "HARK__TOPICS__UNMATCHED": f"hark.{run}.routed.unmatched",
            "HARK__TOPICS__ROUTED_PREFIX": f"hark.{run}.routed.",
            "HARK__TOPICS__ALERTS": f"hark.{run}.alerts",
            "HARK__NOTIFY__TICK_MS": "200",
            "HARK__NOTIFY__GROUP_WAIT_SECS": "1",
            "HARK_CONFORMANCE_INGEST_TOKEN": INGEST_SECRET,
            "HARK_CONFORMANCE_ADMIN_TOKEN": ADMIN_SECRET,
        }
    )
    for topic in ("raw", "enriched", "dlq", "spam"):
        env[f"HARK__TOPICS__{topic.upper()}"] = f"hark.{run}.mentions.{topic}"
    for stage in ("enrich", "route", "alert", "notify"):
        env[f"HARK__{stage.upper()}__GROUP_ID"] = f"hark-{run}-{stage}"
    return env


def request(method, url, token=None, body=None, timeout=5.0):
    """(status, headers, body bytes); status 0 when nothing answered."""
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except (urllib.error.URLError, OSError):
        return 0, {}, b""


def wait_ready(process, bases, log_path, timeout):
    deadline = time.monotonic() + timeout
    pending = list(bases)
    while pending:
        if process.poll() is not None:
            raise Failed(f"hark exited with status {process.returncode} before it was ready:\n{tail(log_path)}")
        if time.monotonic() > deadline:
            raise Failed(f"{', '.join(pending)} not ready within {timeout:.0f} s:\n{tail(log_path)}")
        pending = [base for base in pending if request("GET", f"{base}/readyz")[0] != 200]
        if pending:
            time.sleep(0.5)


def tail(path, lines=30):
    try:
        return "\n".join("    " + line for line in path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "    (no log)"


def seed(brokers, run, admin_base):
    """An alert that fires and one that resolved, on the alerts topic; waits until the notifier
    lists them and the refused delivery is a dead letter, and silences the resolved one."""
    from confluent_kafka import Producer

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    from kafka_common import client_logger

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    def at(minutes_ago):
        return (now - datetime.timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")

    firing = {
        "fingerprint": "c0f0a1b2c3d4e5f6",
        "rule": "negative-spike",
        "state": "firing",
        "labels": {"brand": "SkyNordic", "metric": "negative_share", "severity": "critical"},
        "annotations": {"description": "seeded by the conformance test"},
        "summary": "negative share 63% vs expected 22% (12 of 19 mentions in 5m)",
        "observed": 0.63,
        "expected": 0.22,
        "starts_at": at(15),
        "ends_at": None,
        "sample_mention_ids": ["x:1900876543210987520"],
        "first_event_at": at(16),
        "detected_at": at(14),
        "generated_at": at(0),
    }
    resolved = {
        "fingerprint": "d1e2f3a4b5c6d7e8",
        "rule": "volume-spike",
        "state": "resolved",
        "labels": {"brand": "Veloce Mobile", "metric": "volume", "severity": "critical"},
        "summary": "volume 84 vs expected 20",
        "observed": 84,
        "expected": 20,
        "starts_at": at(50),
        "ends_at": at(20),
        "generated_at": at(0),
    }
    producer = Producer({"bootstrap.servers": brokers, "logger": client_logger("api_conformance")})
    for alert in (firing, resolved):
        producer.produce(f"hark.{run}.alerts", key=alert["fingerprint"], value=json.dumps(alert).encode())
    if producer.flush(15) != 0:
        raise Failed("the seeded alerts were not delivered to the broker")

    def listed(path, key):
        status, _, body = request("GET", f"{admin_base}{path}", ADMIN_SECRET)
        return json.loads(body)[key] if status == 200 else []

    deadline = time.monotonic() + 30
    while len(listed("/v1/alerts", "alerts")) < 2 or not listed("/v1/dead-letters", "dead_letters"):
        if time.monotonic() > deadline:
            alerts, dead = len(listed("/v1/alerts", "alerts")), len(listed("/v1/dead-letters", "dead_letters"))
            raise Failed(f"within 30 s the notifier listed {alerts} of the 2 seeded alerts and {dead} dead letters")
        time.sleep(0.5)
    silence = {
        "matchers": ["rule=volume-spike", "brand=~\"Veloce.*\""],
        "duration_secs": 3600,
        "comment": "seeded",
        "created_by": "conformance",
    }
    status, _, body = request("POST", f"{admin_base}/v1/silences", ADMIN_SECRET, silence)
    if status != 201:
        raise Failed(f"creating the seeded silence: {status} {body[:300]!r}")


def cleanup(redis_url, prefix, brokers, run):
    """Deletes this run's Redis keys and topics (best effort: a broker may refuse deletions)."""
    try:
        delete_redis_keys(redis_url, prefix)
    except (OSError, ValueError) as e:
        log(f"could not delete the Redis keys {prefix}*: {e}")
    try:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": brokers})
        topics = [t for t in admin.list_topics(timeout=5).topics if t.startswith(f"hark.{run}.")]
        for future in admin.delete_topics(topics, operation_timeout=5).values() if topics else []:
            future.result(timeout=10)
    except Exception as e:  # whatever the broker says, the run's verdict stands
        log(f"could not delete the topics hark.{run}.*: {e}")


def delete_redis_keys(url, prefix):
    """SCAN and DEL over a plain redis:// connection (no client library in the venv)."""
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


# ---- refusals schemathesis does not reach (it always sends the right token) --------------------


def refusal_problems(document, ingest_base, admin_base):
    """Sends requests without a token, with an unknown one, with one of the wrong kind, and a
    change that is not JSON; each answer must be one the document gives for that operation."""
    mention = {"id": "refused", "platform": "x", "text": "never ingested", "created_at": "2026-03-14T07:42:19Z", "author": {"id": "a"}}
    silence = {"matchers": ["brand=Acme"], "duration_secs": 60}
    cases = [
        ("no token", ingest_base, "post", "/v1/mentions", None, "application/json", mention, 401),
        ("an unknown token", ingest_base, "post", "/v1/mentions", "unknown-token-0123456789abcdef", "application/json", mention, 401),
        ("an admin token", ingest_base, "post", "/v1/mentions", ADMIN_SECRET, "application/json", mention, 403),
        ("no token", admin_base, "get", "/v1/silences", None, None, None, 401),
        ("an ingest token", admin_base, "post", "/v1/silences", INGEST_SECRET, "application/json", silence, 403),
        ("text/plain", admin_base, "post", "/v1/silences", ADMIN_SECRET, "text/plain", silence, 415),
        ("no Content-Type", admin_base, "delete", "/v1/silences/0123456789abcdef", ADMIN_SECRET, None, None, 415),
    ]
    problems = []
    for what, base, method, path, token, content_type, body, expected in cases:
        label = f"{method.upper()} {path} with {what}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        data = json.dumps(body).encode() if body is not None else None
        sent = urllib.request.Request(base + path, data=data, method=method.upper(), headers=headers)
        try:
            with urllib.request.urlopen(sent, timeout=10) as r:
                status, answer_headers, answer = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, answer_headers, answer = e.code, e.headers, e.read()
        if status != expected:
            problems.append(f"{label}: {status}, expected {expected}: {answer[:300]!r}")
            continue
        problems += [f"{label}: {p}" for p in answer_problems(document, method, path, status, answer_headers, answer)]
    return problems


def answer_problems(document, method, path, status, headers, body):
    """Where an answer departs from the document's response for this status."""
    import jsonschema
    import referencing
    import referencing.jsonschema

    def pointer(*parts):
        return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)

    def deref(node, at):
        """The node a Reference Object points at, and its JSON pointer."""
        while isinstance(node, dict) and "$ref" in node:
            at = node["$ref"][2:]
            node = document
            for part in at.split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, at

    def same(template, concrete):
        a, b = template.split("/"), concrete.split("/")
        return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b))

    template = next((t for t in document["paths"] if same(t, path)), None)
    if template is None or method not in document["paths"][template]:
        return ["not in the document"]
    responses = document["paths"][template][method]["responses"]
    if str(status) not in responses:
        return [f"status {status} is not documented"]
    response, at = deref(responses[str(status)], pointer("paths", template, method, "responses", status))
    problems = []
    for name, header in response.get("headers", {}).items():
        header, _ = deref(header, "")
        value = headers.get(name)
        if value is None:
            if header.get("required"):
                problems.append(f"no {name} header")
            continue
        schema = header.get("schema", {})
        instance = int(value) if schema.get("type") == "integer" and value.isdigit() else value
        problems += [f"header {name}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(instance)]
    media = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    documented = [m.split(";")[0].strip() for m in response.get("content", {})]
    if media not in documented:
        return problems + [f"Content-Type {media!r} is not documented ({', '.join(documented)})"]
    if media == "application/json":
        registry = referencing.Registry().with_resource("urn:hark", referencing.jsonschema.DRAFT202012.create_resource(document))
        schema = {"$ref": "urn:hark#/" + at + "/" + pointer("content", "application/json", "schema")}
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        validator = jsonschema.Draft202012Validator(schema, registry=registry, format_checker=checker)
        problems += [f"body: {e.message}" for e in validator.iter_errors(json.loads(body))]
    return problems


# ---- schemathesis ----------------------------------------------------------------------------


def schemathesis_run(name, location, base, token, tags, args, workdir):
    """One schemathesis run; True when it passed. Its report goes to stdout."""
    command = [sys.executable, "-m", "schemathesis.cli", "run", location, "--url", base, "--checks", CHECKS]
    command += ["--seed", str(args.seed), "--max-examples", str(args.max_examples), "--workers", "1"]
    command += ["--generation-database", "none", "--request-timeout", "15", "--header", f"Authorization: Bearer {token}"]
    # Stateful tests follow the document's links, which are all between admin operations.
    command += ["--phases", "examples,coverage,fuzzing" + (",stateful" if "admin" in tags else "")]
    for tag in tags:
        command += ["--include-tag", tag]
    if not sys.stdout.isatty():
        command.append("--no-color")
    # No __pycache__ beside this file from loading it as the hooks module.
    env = dict(os.environ, SCHEMATHESIS_HOOKS=str(Path(__file__).resolve()), PYTHONDONTWRITEBYTECODE="1")
    shown = shlex.join(command).replace(token, "<token>")
    print(f"\n==== {name}\n$ {shown}", flush=True)
    # Its own directory: schemathesis may leave reports and caches in the working directory.
    return subprocess.run(command, cwd=workdir, env=env).returncode == 0


def served_document_problem(base):
    status, _, body = request("GET", f"{base}/openapi.json")
    if status != 200:
        return f"GET {base}/openapi.json answered {status}"
    if json.loads(body) != json.loads(DOCUMENT.read_text()):
        return f"GET {base}/openapi.json is not proto/openapi.json"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", help="the hark binary to test")
    parser.add_argument("--max-examples", type=int, default=100, help="test cases per operation and phase (default 100)")
    parser.add_argument("--seed", type=int, default=20260314, help="schemathesis's random seed (default 20260314)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (config, hark's log)")
    args = parser.parse_args()

    binary = Path(args.binary).resolve()
    if not os.access(binary, os.X_OK):
        log(f"{binary} is not an executable")
        return 2
    problems = embedded_contracts_problems(json.loads(DOCUMENT.read_text()))
    if problems:
        for problem in problems:
            log(problem)
        return 2

    # SIGTERM ends the run as Ctrl-C does, through the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = f"conformance-{os.getpid()}-{int(time.time())}"
    workdir = Path(tempfile.mkdtemp(prefix="hark-conformance-"))
    ports = set()
    while len(ports) < 2:
        ports.add(free_port())
    ingest, admin = (f"127.0.0.1:{port}" for port in sorted(ports))
    ingest_base, admin_base = f"http://{ingest}", f"http://{admin}"
    env = hark_env(run, ingest, admin)
    receiver = RefusingReceiver()
    config, log_path = workdir / "hark.toml", workdir / "hark.log"
    write_config(config, receiver.url)
    process = None
    try:
        log(f"starting {binary} all (ingest {ingest}, admin {admin}, run {run}; log {log_path})")
        with open(log_path, "wb") as out:
            command = [str(binary), "--config", str(config), "all"]
            process = subprocess.Popen(command, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
        wait_ready(process, [ingest_base, admin_base], log_path, timeout=120)
        seed(env["HARK__KAFKA__BROKERS"], run, admin_base)
        log("ready, seeded: 2 alerts, a dead letter, a silence")

        results = {}
        problems = refusal_problems(json.loads(DOCUMENT.read_text()), ingest_base, admin_base)
        print("\n==== refusals: no token, unknown token, wrong kind of token, not JSON", flush=True)
        print("\n".join(problems) or "every answer is documented", flush=True)
        results["refusals (401, 403, 415)"] = not problems
        # Both listeners serve the document itself, byte for byte.
        for name, base in (("ingest listener serves proto/openapi.json", ingest_base), ("admin listener serves proto/openapi.json", admin_base)):
            problem = served_document_problem(base)
            print(f"\n==== {name}\n{problem or 'the same document'}", flush=True)
            results[name] = problem is None
        for name, base, token, tags in (
            ("ingest listener", ingest_base, INGEST_SECRET, ["ingest"]),
            ("admin listener", admin_base, ADMIN_SECRET, ["admin", "observability"]),
        ):
            results[name] = schemathesis_run(name, str(DOCUMENT), base, token, tags, args, workdir)
        if process.poll() is not None:
            print(f"\nhark exited with status {process.returncode} during the runs:\n{tail(log_path)}", flush=True)
            results["hark kept running"] = False

        print("\n==== summary", flush=True)
        for name, passed in results.items():
            print(f"{'passed' if passed else 'FAILED'}  {name}", flush=True)
        return 0 if all(results.values()) else 1
    except Failed as e:
        log(str(e))
        return 2
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        receiver.close()
        cleanup(env["HARK__REDIS__URL"], env["HARK__REDIS__KEY_PREFIX"], env["HARK__KAFKA__BROKERS"], run)
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
