#!/usr/bin/env python3
"""A real Prometheus scrapes a running Hark; every query of the Grafana dashboard must return data.

Starts `hark all` (the binary given) on the broker and Redis named by HARK__KAFKA__BROKERS and
HARK__REDIS__URL, with topics, consumer groups and Redis keys of its own (deleted afterwards; the
topics only where confluent-kafka is installed), and three webhook receivers: one that answers
200, one that answers 400 (dead letters) and one where nothing listens (retries, a growing
outbox). It replays deploy/demo/mentions.ndjson in two halves, so that counters and histograms
grow while Prometheus watches, plus one mention dated ahead of the alert stage's clock (a dead
letter) and one whose dedupe claim another request holds (an ingest failure). Then it checks:

  - `promtool check metrics` passes on Hark's /metrics;
  - Prometheus loaded every rule of hark.rules.yml and evaluates each without error;
  - every `expr` of the dashboard, with its variables set to match everything, returns at least
    one series with a number (not NaN) through /api/v1/query.

Usage: prometheus_check.py HARK_BINARY [--dashboard F] [--rules F] [--config F] [--prometheus BIN]
Exit 0 when all holds, 1 with the reasons on stderr otherwise, 2 when something could not start.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (check.sh runs plain python3)
from hark_run import (  # noqa: E402  (tests/tools)
    Failure, WebhookReceiver, broker_and_redis, call, clean_up_run, free_addresses, hark_env, logger, redis_prefix,
    run_id, start_hark, stop_process, tail, wait_for, wait_ready)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# How long to wait for a process to come up, or for the queries to return data, before failing.
START_DEADLINE_S = 60
DATA_DEADLINE_S = 90
# Grafana's variables, as the check sets them: every job and instance, windows that hold
# several one-second scrapes.
VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", "$job": ".*", "$instance": ".*"}


log = logger("prometheus_check")


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


def hark_config(example, receiver, refused_address):
    """The example config plus receivers that succeed, reject and cannot be reached."""
    with open(example, encoding="utf-8") as f:
        text = f.read()
    receivers = [("ok-hook", receiver.url("/ok")), ("rejecting-hook", receiver.url("/reject")),
                 ("unreachable-hook", f"http://{refused_address}/")]
    for name, url in receivers:
        text += (f'\n[[notify.receivers]]\nname = "{name}"\nkind = "webhook"\nurl = "{url}"\nsecret = "check"\n'
                 "retry_initial_ms = 200\nretry_max_ms = 1000\n")
    for name, _ in receivers:
        text += f'\n[[notify.routes]]\nreceiver = "{name}"\ncontinue = true\n'
    return text


# Notifications go out at once and changes a second later, so deliveries happen while Prometheus
# scrapes. The alert stage's future skew is stricter than ingest's, so a mention a minute ahead
# passes ingest and is dead-lettered by alert.
HARK_SETTINGS = {
    "HARK__NOTIFY__GROUP_WAIT_SECS": "0",
    "HARK__NOTIFY__GROUP_INTERVAL_SECS": "1",
    "HARK__ALERT__MAX_FUTURE_SKEW_SECS": "5",
    "HARK__LOG__LEVEL": "warn",
}


def post_mentions(listen, lines):
    status, body, _ = call("POST", f"http://{listen}/v1/mentions", "\n".join(lines).encode(), {"content-type": "application/x-ndjson"}, 60)
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
    key = f"{redis_prefix(run)}dedupe:{{{mention['platform']}:{mention['author']['id']}}}:id:{mention['id']}"
    _, url = broker_and_redis()
    subprocess.run(["redis-cli", "-u", url, "SET", key, "p:another-request:0", "EX", "120"], check=True, capture_output=True)


class Prometheus:
    def __init__(self, url):
        self.url = url

    def query(self, expr):
        status, body, _ = call("GET", f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        if status != 200:
            raise Failure(f"query {expr!r}: HTTP {status} {body[:300]}")
        return json.loads(body)["data"]["result"]

    def has_number(self, expr):
        return any(not math.isnan(float(series["value"][1])) for series in self.query(expr))


def check_rules(prometheus, rules_path):
    status, body, _ = call("GET", f"{prometheus.url}/api/v1/rules")
    loaded = {rule["name"]: rule for group in json.loads(body)["data"]["groups"] for rule in group["rules"]}
    with open(rules_path, encoding="utf-8") as f:
        expected = {line.split(":", 1)[1].strip() for line in f if line.strip().startswith("- alert:")}
    problems = [f"rule {name} not loaded" for name in sorted(expected - loaded.keys())]
    problems += [f"rule {name}: {rule['health']} {rule.get('lastError', '')}" for name, rule in loaded.items() if rule["health"] != "ok"]
    return problems, len(loaded)


def run_check(args, work):
    run = run_id("promcheck")
    # The admin listener (notify API, reload) on a port of its own too; nothing listens on the
    # refused address once the probe socket is closed.
    listen, admin, prometheus_address, refused_address = free_addresses(4)
    receiver = WebhookReceiver(answer=lambda path: 200 if path == "/ok" else 400)
    processes = []
    passed = False
    try:
        config_path = os.path.join(work, "hark.toml")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(hark_config(args.config, receiver, refused_address))
        hark_log = os.path.join(work, "hark.log")
        hark = start_hark(args.hark, config_path, hark_env(run, listen, admin, HARK_SETTINGS), hark_log)
        processes.append(("hark", hark, hark_log))

        prometheus_config = os.path.join(work, "prometheus.yml")
        with open(prometheus_config, "w", encoding="utf-8") as f:
            json.dump({  # JSON is YAML
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [os.path.abspath(args.rules)],
                "scrape_configs": [{"job_name": "hark", "static_configs": [{"targets": [listen]}]}],
            }, f)
        prometheus_log = os.path.join(work, "prometheus.log")
        with open(prometheus_log, "w") as out:
            prometheus_proc = subprocess.Popen(
                [args.prometheus, f"--config.file={prometheus_config}", f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
                 f"--web.listen-address={prometheus_address}"], stdout=out, stderr=subprocess.STDOUT)
        processes.append(("prometheus", prometheus_proc, prometheus_log))
        prometheus = Prometheus(f"http://{prometheus_address}")

        wait_ready(hark, (listen,), START_DEADLINE_S)
        wait_for("prometheus /-/ready", lambda: call("GET", f"{prometheus.url}/-/ready")[0] == 200, START_DEADLINE_S, prometheus_proc, "prometheus")
        wait_for("prometheus scrapes hark", lambda: prometheus.query('up{job="hark"} == 1'), START_DEADLINE_S, prometheus_proc, "prometheus")
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

        metrics_status, metrics_text, _ = call("GET", f"http://{listen}/metrics")
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
        receiver.stop()
        for name, proc, log_path in processes:
            if proc.poll() is not None and proc.returncode != 0:
                log(f"{name} exited with {proc.returncode}")
                passed = False
            stop_process(proc)
            if not passed:
                log(f"last lines of the {name} log:\n{tail(log_path)}")
        clean_up_run(run, log)


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
