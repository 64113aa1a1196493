#!/usr/bin/env python3
"""A real Prometheus scrapes a running Hark; every query of the Grafana dashboard must return data.

Starts `hark all` (the binary given) on the broker and Redis named by HARK__KAFKA__BROKERS and
HARK__REDIS__URL, with topics, consumer groups and Redis keys of its own, and three webhook
receivers: one that answers 200, one that answers 400 (dead letters) and one where nothing
listens (retries, a growing outbox). It replays deploy/demo/mentions.ndjson in two halves, so
that counters and histograms grow while Prometheus watches, plus one mention dated ahead of the
alert stage's clock (a dead letter) and one whose dedupe claim another request holds (an ingest
failure). Then it checks:

  - `promtool check metrics` passes on Hark's /metrics;
  - Prometheus loaded every rule of hark.rules.yml and evaluates each without error;
  - every `expr` of the dashboard, with its variables set to match everything, returns at least
    one series with a number (not NaN) through /api/v1/query.

Usage: prometheus_check.py HARK_BINARY [--dashboard F] [--rules F] [--config F] [--prometheus BIN]
Exit 0 when all holds, 1 with the reasons on stderr otherwise, 2 when something could not start.
"""

import argparse
import http.server
import json
import math
import os
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
from datetime import datetime, timedelta, timezone

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# How long to wait for a process to come up, or for the queries to return data, before failing.
START_DEADLINE_S = 60
DATA_DEADLINE_S = 90
# Grafana's variables, as the check sets them: every job and instance, windows that hold
# several one-second scrapes.
VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", "$job": ".*", "$instance": ".*"}


def log(msg):
    print(f"prometheus_check: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    """Something that must hold does not."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, headers=None, timeout=10):
    """(status, body text); a refused connection is status 0."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, ""


def wait_for(what, check, deadline_s, proc=None):
    """Polls check() until it returns a true value, the deadline passes or proc exits."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = check()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise Failure(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {deadline_s}s")
        time.sleep(0.5)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Webhook receiver: POST /ok answers 200, anything else 400 (a request Hark must not retry)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200 if self.path == "/ok" else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


def dashboard_exprs(path):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    exprs = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                exprs.append((panel["title"], target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    if not exprs:
        raise Failure(f"{path} has no queries")
    return exprs


def substitute(expr):
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    if "$" in expr:
        raise Failure(f"a dashboard variable the check does not know: {expr}")
    return expr


def hark_config(example, receiver_port, refused_port):
    """The example config plus receivers that succeed, reject and cannot be reached."""
    with open(example, encoding="utf-8") as f:
        text = f.read()
    receivers = [("ok-hook", f"http://127.0.0.1:{receiver_port}/ok"), ("rejecting-hook", f"http://127.0.0.1:{receiver_port}/reject"),
                 ("unreachable-hook", f"http://127.0.0.1:{refused_port}/")]
    for name, url in receivers:
        text += (f'\n[[notify.receivers]]\nname = "{name}"\nkind = "webhook"\nurl = "{url}"\nsecret = "check"\n'
                 "retry_initial_ms = 200\nretry_max_ms = 1000\n")
    for name, _ in receivers:
        text += f'\n[[notify.routes]]\nreceiver = "{name}"\ncontinue = true\n'
    return text


def hark_env(run, listen):
    """Topics, groups and Redis keys of this run alone (as `deploy/local.sh demo` does)."""
    env = dict(os.environ)
    env.update({
        "HARK__INGEST__LISTEN": listen,
        # The admin listener (notify API, reload) on a port of its own too.
        "HARK__INGEST__ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
        "HARK__REDIS__KEY_PREFIX": f"hark:{run}:",
        "HARK__TOPICS__UNMATCHED": f"hark.{run}.routed.unmatched",
        "HARK__TOPICS__ROUTED_PREFIX": f"hark.{run}.routed.",
        "HARK__TOPICS__ALERTS": f"hark.{run}.alerts",
        # Notifications go out at once and changes a second later, so deliveries happen while Prometheus scrapes.
        "HARK__NOTIFY__GROUP_WAIT_SECS": "0",
        "HARK__NOTIFY__GROUP_INTERVAL_SECS": "1",
        # Stricter than ingest's skew, so a mention a minute ahead passes ingest and is dead-lettered by alert.
        "HARK__ALERT__MAX_FUTURE_SKEW_SECS": "5",
        "HARK__LOG__LEVEL": "warn",
    })
    for topic in ("raw", "enriched", "dlq", "spam"):
        env[f"HARK__TOPICS__{topic.upper()}"] = f"hark.{run}.mentions.{topic}"
    for stage in ("enrich", "route", "alert", "notify"):
        env[f"HARK__{stage.upper()}__GROUP_ID"] = f"hark-{run}-{stage}"
    return env


def post_mentions(listen, lines):
    status, body = call("POST", f"http://{listen}/v1/mentions", "\n".join(lines).encode(), {"content-type": "application/x-ndjson"}, 60)
    return status, body


def special_mentions(template_line, run):
    """A mention a minute ahead of the clock, and one to be claimed by another request first."""
    template = json.loads(template_line)
    future = dict(template, id=f"{run}-future", text=f"{template['text']} ({run} future)",
                  created_at=(datetime.now(timezone.utc) + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    in_flight = dict(template, id=f"{run}-in-flight", text=f"{template['text']} ({run} in flight)")
    return future, in_flight


def hold_claim(run, mention):
    """Sets the dedupe claim a crashed request would leave, so ingest reports the mention in_flight."""
    key = f"hark:{run}:dedupe:{{{mention['platform']}:{mention['author']['id']}}}:id:{mention['id']}"
    url = os.environ.get("HARK__REDIS__URL", "redis://127.0.0.1:6379/")
    subprocess.run(["redis-cli", "-u", url, "SET", key, "p:another-request:0", "EX", "120"], check=True, capture_output=True)


class Prometheus:
    def __init__(self, url):
        self.url = url

    def query(self, expr):
        status, body = call("GET", f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        if status != 200:
            raise Failure(f"query {expr!r}: HTTP {status} {body[:300]}")
        return json.loads(body)["data"]["result"]

    def has_number(self, expr):
        return any(not math.isnan(float(series["value"][1])) for series in self.query(expr))


def check_rules(prometheus, rules_path):
    status, body = call("GET", f"{prometheus.url}/api/v1/rules")
    loaded = {rule["name"]: rule for group in json.loads(body)["data"]["groups"] for rule in group["rules"]}
    with open(rules_path, encoding="utf-8") as f:
        expected = {line.split(":", 1)[1].strip() for line in f if line.strip().startswith("- alert:")}
    problems = [f"rule {name} not loaded" for name in sorted(expected - loaded.keys())]
    problems += [f"rule {name}: {rule['health']} {rule.get('lastError', '')}" for name, rule in loaded.items() if rule["health"] != "ok"]
    return problems, len(loaded)


def run_check(args, work):
    run = f"promcheck-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    listen = f"127.0.0.1:{free_port()}"
    prometheus_port = free_port()
    refused_port = free_port()  # nothing listens there once the probe socket is closed
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    processes = []
    passed = False
    try:
        config_path = os.path.join(work, "hark.toml")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(hark_config(args.config, receiver.server_address[1], refused_port))
        hark_log = open(os.path.join(work, "hark.log"), "w")
        hark = subprocess.Popen([args.hark, "--config", config_path, "all"], env=hark_env(run, listen), stdout=hark_log, stderr=subprocess.STDOUT)
        processes.append(("hark", hark, hark_log.name))

        prometheus_config = os.path.join(work, "prometheus.yml")
        with open(prometheus_config, "w", encoding="utf-8") as f:
            json.dump({  # JSON is YAML
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [os.path.abspath(args.rules)],
                "scrape_configs": [{"job_name": "hark", "static_configs": [{"targets": [listen]}]}],
            }, f)
        prometheus_log = open(os.path.join(work, "prometheus.log"), "w")
        prometheus_proc = subprocess.Popen(
            [args.prometheus, f"--config.file={prometheus_config}", f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}"], stdout=prometheus_log, stderr=subprocess.STDOUT)
        processes.append(("prometheus", prometheus_proc, prometheus_log.name))
        prometheus = Prometheus(f"http://127.0.0.1:{prometheus_port}")

        wait_for("hark /readyz", lambda: call("GET", f"http://{listen}/readyz")[0] == 200, START_DEADLINE_S, hark)
        wait_for("prometheus /-/ready", lambda: call("GET", f"{prometheus.url}/-/ready")[0] == 200, START_DEADLINE_S, prometheus_proc)
        wait_for("prometheus scrapes hark", lambda: prometheus.query('up{job="hark"} == 1'), START_DEADLINE_S, prometheus_proc)
        log(f"hark all on {listen} and prometheus on {prometheus.url} are up (run {run})")

        with open(os.path.join(REPO, "deploy/demo/mentions.ndjson"), encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
        half = len(lines) // 2
        future, in_flight = special_mentions(lines[0], run)
        # First half: every series appears; Prometheus sees them before the second half makes them grow.
        status, _ = post_mentions(listen, lines[:half] + [json.dumps(future)])
        if status != 200:
            raise Failure(f"POST of the first half: HTTP {status}")
        wait_for("the first half routed and scraped", lambda: prometheus.query('hark_sent_total{stage="route"}'), DATA_DEADLINE_S, hark)
        status, _ = post_mentions(listen, lines[half:])
        if status != 200:
            raise Failure(f"POST of the second half: HTTP {status}")
        hold_claim(run, in_flight)
        status, body = post_mentions(listen, [json.dumps(in_flight)])
        if status != 503:
            raise Failure(f"a mention claimed by another request: expected HTTP 503, got {status} {body[:300]}")

        metrics_status, metrics_text = call("GET", f"http://{listen}/metrics")
        lint = subprocess.run([args.promtool, "check", "metrics"], input=metrics_text, capture_output=True, text=True)
        if metrics_status != 200 or lint.returncode != 0:
            raise Failure(f"promtool check metrics on http://{listen}/metrics (HTTP {metrics_status}): {lint.stdout}{lint.stderr}")
        log("promtool check metrics: hark's /metrics is clean")

        queries = [(title, expr, substitute(expr)) for title, expr in dashboard_exprs(args.dashboard)]
        missing = queries
        deadline = time.monotonic() + DATA_DEADLINE_S
        while missing and time.monotonic() < deadline and hark.poll() is None:
            missing = [q for q in missing if not prometheus.has_number(q[2])]
            if missing:
                time.sleep(1)
        for title, expr, query in missing:
            log(f"no data within {DATA_DEADLINE_S}s for panel {title!r}: {query}")
        log(f"{len(queries) - len(missing)} of {len(queries)} dashboard queries return data")

        rule_problems, rule_count = check_rules(prometheus, args.rules)
        for problem in rule_problems:
            log(problem)
        log(f"prometheus evaluates {rule_count} rules of {args.rules}")
        passed = not missing and not rule_problems
        return 0 if passed else 1
    finally:
        receiver.shutdown()
        for name, proc, log_path in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            elif proc.returncode != 0:
                log(f"{name} exited with {proc.returncode}")
                passed = False
            if not passed:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    log(f"last lines of the {name} log:\n" + "".join(f.readlines()[-20:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hark", help="the hark binary to run")
    parser.add_argument("--dashboard", default=os.path.join(REPO, "deploy/grafana/hark.json"))
    parser.add_argument("--rules", default=os.path.join(REPO, "deploy/prometheus/hark.rules.yml"))
    parser.add_argument("--config", default=os.path.join(REPO, "deploy/hark.example.toml"))
    parser.add_argument("--prometheus", default=os.environ.get("HARK_PROMETHEUS", "/usr/bin/prometheus"))
    parser.add_argument("--promtool", default=os.environ.get("HARK_PROMTOOL", "/usr/bin/promtool"))
    args = parser.parse_args()
    for binary in (args.hark, args.prometheus, args.promtool):
        if not os.access(binary, os.X_OK):
            log(f"{binary} is not an executable (prometheus and promtool: apt-get install prometheus)")
            return 2
    work = tempfile.mkdtemp(prefix="hark-prometheus-check-")
    try:
        return run_check(args, work)
    except Failure as e:
        log(str(e))
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
