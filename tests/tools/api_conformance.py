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
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # schemathesis loads this file as a hooks module
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from hark_run import (  # noqa: E402  (tests/tools)
    Failure, NotStarted, WebhookReceiver, call, clean_up_run, free_addresses, hark_env, logger, run_id, start_hark,
    stop_process, tail, wait_for, wait_ready)

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


log = logger("api_conformance")


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


def request(method, url, token=None, body=None, timeout=5.0):
    """(status, headers, body text) of a call with this token and this body as JSON; status 0
    when nothing answered."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    status, text, answer_headers = call(method, url, data, headers, timeout)
    return status, answer_headers, text


def seed(brokers, run, admin_base):
    """An alert that fires and one that resolved, on the alerts topic; waits until the notifier
    lists them and the refused delivery is a dead letter, and silences the resolved one."""
    from confluent_kafka import Producer
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
        raise NotStarted("the seeded alerts were not delivered to the broker")

    def listed(path, key):
        status, _, body = request("GET", f"{admin_base}{path}", ADMIN_SECRET)
        return json.loads(body)[key] if status == 200 else []

    try:
        wait_for("the 2 seeded alerts and a dead letter listed by the notifier",
                 lambda: len(listed("/v1/alerts", "alerts")) >= 2 and listed("/v1/dead-letters", "dead_letters"), 30)
    except Failure:
        alerts, dead = len(listed("/v1/alerts", "alerts")), len(listed("/v1/dead-letters", "dead_letters"))
        raise NotStarted(f"within 30 s the notifier listed {alerts} of the 2 seeded alerts and {dead} dead letters") from None
    silence = {
        "matchers": ["rule=volume-spike", "brand=~\"Veloce.*\""],
        "duration_secs": 3600,
        "comment": "seeded",
        "created_by": "conformance",
    }
    status, _, body = request("POST", f"{admin_base}/v1/silences", ADMIN_SECRET, silence)
    if status != 201:
        raise NotStarted(f"creating the seeded silence: {status} {body[:300]!r}")


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
        status, answer, answer_headers = call(method.upper(), base + path, data, headers)
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
    run = run_id("conformance")
    workdir = Path(tempfile.mkdtemp(prefix="hark-conformance-"))
    ingest, admin = free_addresses(2)
    ingest_base, admin_base = f"http://{ingest}", f"http://{admin}"
    # Only the broker and Redis are taken from the caller; other HARK__ settings would change what is tested.
    env = hark_env(run, ingest, admin, inherit_hark=False, extra={
        "HARK__NOTIFY__TICK_MS": "200",
        "HARK__NOTIFY__GROUP_WAIT_SECS": "1",
        "HARK_CONFORMANCE_INGEST_TOKEN": INGEST_SECRET,
        "HARK_CONFORMANCE_ADMIN_TOKEN": ADMIN_SECRET,
    })
    receiver = WebhookReceiver()
    config, log_path = workdir / "hark.toml", workdir / "hark.log"
    write_config(config, receiver.url())
    process = None
    try:
        log(f"starting {binary} all (ingest {ingest}, admin {admin}, run {run}; log {log_path})")
        process = start_hark(binary, config, env, log_path, cwd=workdir)
        wait_ready(process, (ingest, admin), 120)
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
            print(f"\nhark exited with status {process.returncode} during the runs:\n{tail(log_path, 30)}", flush=True)
            results["hark kept running"] = False

        print("\n==== summary", flush=True)
        for name, passed in results.items():
            print(f"{'passed' if passed else 'FAILED'}  {name}", flush=True)
        return 0 if all(results.values()) else 1
    except (Failure, NotStarted) as e:
        # Hark, or what the runs need, could not be set up.
        log(f"{e}:\n{tail(log_path, 30)}")
        return 2
    finally:
        if process is not None:
            stop_process(process, timeout=20)
        receiver.stop()
        clean_up_run(run, log)
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
