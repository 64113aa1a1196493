#!/usr/bin/env python3
"""A real browser drives Hark's web console against a running `hark all` with a live alert.

Starts `hark all` (the binary given) on the broker and Redis named by HARK__KAFKA__BROKERS and
HARK__REDIS__URL (default: the local ones), with topics, consumer groups, Redis keys and ports of
its own, one webhook receiver of its own that refuses every request (HTTP 400) until told to
accept, a spike rule and a threshold rule on a brand's negative share. It replays six quiet hours
of that brand (timestamps from eight hours ago), one hour in which most mentions are angry
complaints, and a quarter of an hour of quiet again, so the windows close at once. Once
/v1/alerts shows the negative alert firing, headless Chromium opens the console and checks:

  - the alert card shows its rule, its brand and at least one sample mention's text;
  - the brand's chart of the rule is drawn, with points and a marked alert period;
  - "Silence…" opens a form pre-filled with the alert's matchers; submitting it silences the
    alert (in the page and in /v1/alerts);
  - the refused notification is listed as a dead letter; once the receiver accepts, "Replay"
    delivers that notification to it;
  - pipeline health shows the process ready and every stage's rates.

Usage: console_check.py HARK_BINARY [--screenshot PNG] [--skip-new] [--assets DIR]
  --skip-new  the binary predates /v1/series and /v1/mentions: check that the charts and the
              sample mentions say "not served by this process" instead
  --assets    serve the console's files from DIR (crates/hark-console/assets) through a
              same-origin proxy in front of the admin listener: for a binary built before the
              console, or to try edits to the page without a rebuild
Run with the venv that has selenium (.hark/venv/bin/python); Chromium and ChromeDriver are
/usr/bin/chromium and /usr/bin/chromedriver (HARK_CHROMIUM, HARK_CHROMEDRIVER).
Exit 0 when all holds, 1 with the reasons on stderr otherwise, 2 when something could not start.
"""

import argparse
import http.server
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from hark_run import (  # noqa: E402  (tests/tools; soak.py takes `call` from here)
    Failure, NotStarted, WebhookReceiver, call, clean_up_run, free_addresses, get_json, hark_env, logger,
    run_id, start_hark, stop_process, tail, wait_for, wait_ready)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_DEADLINE_S = 60
ALERT_DEADLINE_S = 60
# How long the page may take to show something after it was asked (it polls every 5 s).
PAGE_WAIT_S = 20
BRAND = "SkyNordic"
SPIKE_RULE = "negative-spike"
THRESHOLD_RULE = "negative-share-high"
WINDOW_SECS = 300
SECRET = "console-check-secret-7f3a"
CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

QUIET_TEXTS = [
    "Flying SkyNordic to Oslo tomorrow morning, does the lounge at gate C open early?",
    "SkyNordic flight on time today, smooth boarding and friendly crew. Thanks!",
    "Great service from SkyNordic today, the crew was lovely and the coffee was good",
    "Booked my summer trip with SkyNordic, the app made it really easy",
    "Does SkyNordic allow two cabin bags on the basic fare?",
    "SkyNordic landed early in Copenhagen, excellent flight, thank you",
    "Just checked in online with SkyNordic, quick and simple",
    "Love the new SkyNordic lounge in Stockholm, very comfortable",
]
NEGATIVE_TEXTS = [
    "SkyNordic cancelled my flight again and nobody answers the phone. Terrible service, I want a refund now",
    "Worst airline ever. SkyNordic lost my suitcase and the claim form is broken. Absolutely awful",
    "@SkyNordic three hours delayed, no information, no food vouchers. Disgusting way to treat customers",
    "SkyNordic refund still not processed after nine weeks. Useless customer service, I am so angry",
    "Terrible experience with SkyNordic, rude staff at the gate and my bag arrived broken",
    "SkyNordic overbooked the flight and left us stranded overnight. Horrible, never again",
]
NAMES = ["Anna Berg", "Jonas Lind", "Maja Holm", "Erik Dahl", "Sofia Nyberg", "Oskar Vik", "Ida Strand", "Lars Moe"]
PLATFORMS = ["twitter", "reddit", "trustpilot", "facebook"]


log = logger("console_check")


# ---------------------------------------------------------------------------------------------
# The page's files through a proxy (--assets)


def start_assets_proxy(assets, admin):
    """Serves GET /console/* from `assets` and passes everything else on to the admin listener,
    on one origin, as the binary would serve it."""
    types = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

    class Proxy(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body, content_type):
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-cache")
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser left (a new page, or the end of the check)

        def forward(self):
            if self.command == "GET" and self.path.split("?")[0] in ("/", "/console"):
                self.send_response(303)
                self.send_header("location", "/console/")
                self.end_headers()
                return
            if self.command == "GET" and self.path.startswith("/console/"):
                name = self.path.split("?")[0][len("/console/"):] or "index.html"
                path = os.path.join(assets, name)
                if "/" in name or not os.path.isfile(path):
                    return self.answer(404, b"no such file in the console", "text/plain")
                with open(path, "rb") as f:
                    return self.answer(200, f.read(), types.get(os.path.splitext(name)[1], "application/octet-stream"))
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type", "accept")}
            status, text, answer_headers = call(self.command, f"http://{admin}{self.path}", body, headers)
            if status == 0:
                return self.answer(502, b"hark does not answer", "text/plain")
            self.answer(status, text.encode(), answer_headers.get("content-type", "application/octet-stream"))

        do_GET = do_POST = do_DELETE = forward

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------------------------------------
# Hark's config and the stream


def hark_config(run, admin, receiver_url):
    """The parts of deploy/hark.example.toml this check needs; the run's names and ports are in
    its environment (hark_env)."""
    return f"""
[kafka]
client_id = "{run}"
create_topics = true
partitions = 1

[[enrich.brands]]
name = "{BRAND}"
keywords = ["SkyNordic", "Sky Nordic"]
handles = ["SkyNordic", "SkyNordicHelp"]

[[route.rules]]
name = "complaints"
when = {{ sentiments = ["negative"] }}

[alert]
window_secs = {WINDOW_SECS}

# Six quiet hours are 72 windows to learn from; the alert must still fire when the page is
# checked, hence a resolve_after longer than the quiet windows closed after the wave.
[[alert.rules]]
name = "{SPIKE_RULE}"
kind = "spike"
metric = "negative_share"
warmup_windows = 12
resolve_after = 6
labels = {{ severity = "critical" }}

[[alert.rules]]
name = "{THRESHOLD_RULE}"
kind = "threshold"
metric = "negative_share"
above = 0.6
min_volume = 5
for_windows = 2
resolve_after = 6
brands = ["{BRAND}"]
labels = {{ severity = "warning" }}

[notify]
external_url = "http://{admin}"
tick_ms = 200
group_by = ["brand"]
group_wait_secs = 1
group_interval_secs = 1
repeat_interval_secs = 3600

[[notify.receivers]]
name = "console-check"
kind = "webhook"
url = "{receiver_url}"
secret = "{SECRET}"
retry_initial_ms = 100
retry_max_ms = 500
rate_limit_per_minute = 6000

[[notify.routes]]
receiver = "console-check"

[log]
level = "warn"
"""


def stream(run, now):
    """Six quiet hours of the brand from eight hours ago, one hour of angry complaints, a quarter
    of an hour of quiet: (NDJSON lines, {mention id: text})."""
    rng = random.Random(7)
    start = (int(now.timestamp()) // WINDOW_SECS) * WINDOW_SECS - 8 * 3600
    phases = [(72, 12, 0.12), (12, 18, 0.8), (3, 12, 0.12)]  # windows, mentions per window, negative share
    lines, texts = [], {}
    window = 0
    for windows, per_window, negative in phases:
        for _ in range(windows):
            for i in range(per_window):
                n = len(lines)
                pool = NEGATIVE_TEXTS if rng.random() < negative else QUIET_TEXTS
                # Numbered, so no two mentions share a text (the same text from many authors reads as spam).
                text = f"{pool[n % len(pool)]} (trip {n})"
                created = datetime.fromtimestamp(start + window * WINDOW_SECS + i * WINDOW_SECS // per_window, timezone.utc)
                mention = {
                    "id": f"{run}-{n}",
                    "platform": PLATFORMS[n % len(PLATFORMS)],
                    "text": text,
                    "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "author": {"id": f"{run}-author-{n}", "handle": f"traveller{n}", "name": NAMES[n % len(NAMES)], "followers": 50 + n},
                    "brand": BRAND,
                }
                lines.append(json.dumps(mention, ensure_ascii=False))
                texts[f"{mention['platform']}:{mention['id']}"] = text
            window += 1
    return lines, texts


# ---------------------------------------------------------------------------------------------
# The browser


def start_browser(profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("HARK_CHROMIUM", "/usr/bin/chromium")
    for arg in CHROME_ARGS + [f"--user-data-dir={profile}", "--window-size=1366,900"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("HARK_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    # The viewport itself 1366×900, whatever the window's frame takes.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    return driver


class Page:
    """The console in the browser. Reads go through one script each, so a panel drawn again by
    the page's polling between two steps cannot leave the check holding a stale element."""

    # What a card shows, as the user sees it (innerText: CSS capitals and hidden parts applied).
    CARD = """
        const card = document.querySelector(`.alert-card[data-fingerprint="${arguments[0]}"]`);
        if (!card) return null;
        const text = (css) => { const el = card.querySelector(css); return el ? el.innerText.trim() : ""; };
        return {
            rule: text(".alert-rule"), brand: text(".brand-button"), state: card.dataset.state,
            silenced: text(".silenced-by"), samples: text(".samples"),
            mention_texts: [...card.querySelectorAll(".mention-text")].map((el) => el.textContent),
            mention_ids: [...card.querySelectorAll(".mention")].map((el) => el.dataset.mentionId),
        };
    """
    CHART = """
        const svg = document.querySelector(`svg[data-series="${arguments[0]}"][data-rule="${arguments[1]}"]`);
        if (!svg) return null;
        const count = (css) => svg.querySelectorAll(css).length;
        return { points: count("circle.point"), firing_points: count("circle.point.firing"),
                 periods: count("rect.firing-period"), bands: count(".expected-band"), lines: count("polyline.observed-line") };
    """

    def __init__(self, driver):
        self.driver = driver

    def wait(self, what, condition, timeout=PAGE_WAIT_S):
        return wait_for(f"the page showing {what}", condition, timeout, interval_s=0.25)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def exists(self, css):
        return self.js("return document.querySelector(arguments[0]) !== null", css)

    def text(self, css):
        return self.js("const el = document.querySelector(arguments[0]); return el ? el.innerText : ''", css)

    def value(self, css):
        return self.js("const el = document.querySelector(arguments[0]); return el ? el.value : null", css)

    def card(self, fingerprint):
        return self.js(self.CARD, fingerprint)

    def card_shows(self, fingerprint, field):
        """One field of the card (see CARD); empty while the card is not there."""
        card = self.card(fingerprint)
        return card[field] if card else ""

    def chart(self, fingerprint, rule):
        return self.js(self.CHART, fingerprint, rule)

    def click(self, css):
        """A real click (scrolled into view first) on the element the selector names now."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        for _ in range(5):
            try:
                element = self.wait(css, lambda: (self.driver.find_elements(By.CSS_SELECTOR, css) or [None])[0])
                self.js("arguments[0].scrollIntoView({block: 'center'})", element)
                element.click()
                return
            except StaleElementReferenceException:
                time.sleep(0.2)
        raise Failure(f"{css} was drawn again each time it was to be clicked")

    def type(self, css, text):
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, css).send_keys(text)


def browser_problems(driver, skip_new):
    """Errors the page logged: any script error, and failed requests other than expected ones."""
    problems = []
    for entry in driver.get_log("browser"):
        if entry.get("level") != "SEVERE":
            continue
        message = entry.get("message", "")
        if "Failed to load resource" in message and skip_new and ("/v1/series" in message or "/v1/mentions" in message):
            continue
        problems.append(message[:400])
    return problems


# ---------------------------------------------------------------------------------------------
# The check


def check_console(args, page, admin, console_url, alert, texts, receiver, problems):
    fp = alert["fingerprint"]
    card_css = f'.alert-card[data-fingerprint="{fp}"]'
    page.driver.get(console_url)

    # The alert card: rule, brand, sample mentions.
    card = page.wait(f"the alert card {fp}", lambda: page.card(fp))
    if card["rule"] != SPIKE_RULE:
        problems.append(f"the alert card's rule is {card['rule']!r}, not {SPIKE_RULE!r}")
    if card["brand"] != BRAND:
        problems.append(f"the alert card's brand is {card['brand']!r}, not {BRAND!r}")
    if card["state"] != "firing":
        problems.append(f"the alert card's state is {card['state']!r}")
    if args.skip_new:
        page.wait("that sample mentions are not served", lambda: "not served by this process" in page.card_shows(fp, "samples"))
    else:
        page.wait("a sample mention's text", lambda: any(page.card_shows(fp, "mention_texts")))
        card = page.card(fp)
        sent = set(texts.values())
        if not any(text in sent for text in card["mention_texts"]):
            problems.append(f"no sample mention shown is one that was sent: {card['mention_texts'][:3]}")
        cited = set(alert.get("sample_mention_ids", []))
        if not cited <= set(card["mention_ids"]):
            problems.append(f"sample mentions cited {sorted(cited)} but listed {sorted(card['mention_ids'])}")
    log("the alert card shows its rule, brand and sample mentions")

    # The brand's charts, selected by clicking the alert's brand.
    page.click(f"{card_css} .brand-button")
    if args.skip_new:
        page.wait("that the charts are not served", lambda: "Not served by this process" in page.text("#charts-body"))
    else:
        chart = page.wait(f"the chart of {SPIKE_RULE}", lambda: page.chart(fp, SPIKE_RULE))
        if chart["points"] < 12 or not chart["lines"]:
            problems.append(f"the chart of {SPIKE_RULE} has {chart['points']} points and {chart['lines']} lines; expected 12 windows or more")
        if chart["periods"] < 1 or chart["firing_points"] < 1:
            problems.append(f"the chart of {SPIKE_RULE} marks no alert period: {chart}")
        if chart["bands"] < 1:
            problems.append(f"the chart of {SPIKE_RULE} has no expected band")
        if not page.exists(f'svg[data-rule="{THRESHOLD_RULE}"]'):
            problems.append(f"no chart of the threshold rule {THRESHOLD_RULE}")
        if page.value("#brand-select") != BRAND:
            problems.append(f"the brand picker shows {page.value('#brand-select')!r}, not {BRAND!r}")
        log(f"the chart of {SPIKE_RULE} has {chart['points']} points and {chart['periods']} alert period(s)")

    # Silence it through the form.
    page.click(f"{card_css} .silence-button")
    page.wait("the silence form", lambda: page.js("return document.getElementById('silence-dialog').open"))
    expected = {f"rule={alert['rule']}"} | {f"{k}={v}" for k, v in alert["labels"].items()}
    given = {line.strip() for line in page.value("#silence-matchers").splitlines() if line.strip()}
    if given != expected:
        problems.append(f"the silence form holds the matchers {sorted(given)}, expected {sorted(expected)}")
    if page.value("#silence-duration") != "2h":
        problems.append(f"the silence duration is {page.value('#silence-duration')!r}, not 2h")
    page.type("#silence-created-by", "console-check")
    page.type("#silence-comment", "known incident, checked by the console check")
    page.click("#silence-submit")
    page.wait("the silence form closed", lambda: not page.js("return document.getElementById('silence-dialog').open"))
    page.wait("the alert as silenced", lambda: page.card_shows(fp, "silenced"))
    silenced_by = [a for a in get_json(f"http://{admin}/v1/alerts")["alerts"] if a["fingerprint"] == fp][0].get("silenced_by", [])
    if not silenced_by:
        problems.append("/v1/alerts does not show the alert silenced after the form was submitted")
    else:
        silence_id = silenced_by[0]
        if silence_id not in page.card_shows(fp, "silenced"):
            problems.append(f"the card does not name the silence {silence_id}: {page.card_shows(fp, 'silenced')!r}")
        page.wait(f"the silence {silence_id} in the list", lambda: page.exists(f'tr[data-silence-id="{silence_id}"]'))
        silence = [s for s in get_json(f"http://{admin}/v1/silences")["silences"] if s["id"] == silence_id][0]
        if silence.get("created_by") != "console-check":
            problems.append(f"the silence was created by {silence.get('created_by')!r}")
    log(f"the silence form silenced the alert ({', '.join(silenced_by)})")

    # The dead letter, and its replay once the receiver accepts.
    letters = get_json(f"http://{admin}/v1/dead-letters")["dead_letters"]
    if not letters:
        raise Failure("no dead letter, though the receiver refused the first notification")
    letter = letters[0]["delivery"]
    row_css = f'tr[data-delivery-id="{letter["id"]}"]'
    page.wait(f"the dead letter {letter['id']}", lambda: page.exists(row_css))
    row_text = page.text(row_css)
    if "console-check" not in row_text or "400" not in row_text:
        problems.append(f"the dead letter row does not name the receiver and HTTP 400: {row_text!r}")
    receiver.answer = lambda path: 200  # from now on it accepts
    page.click(f"{row_css} .replay-button")
    wait_for(f"the replayed notification {letter['notification_id']} at the receiver",
             lambda: letter["notification_id"] in receiver.accepted_ids(), PAGE_WAIT_S)
    replayed = receiver.accepted_body(letter["notification_id"])
    if replayed.get("id") != letter["notification_id"] or fp not in {a.get("fingerprint") for a in replayed.get("alerts", [])}:
        problems.append(f"the replayed notification is not the refused one about {fp}: {json.dumps(replayed)[:300]}")
    page.wait("the replayed dead letter gone from the list", lambda: not page.exists(row_css))
    log(f"Replay delivered notification {letter['notification_id']}")

    # Pipeline health: ready, every stage, rates after two polls.
    page.wait("the process ready", lambda: page.exists('#readiness-body [data-ready="true"]'))
    for stage in ("ingest", "enrich", "route", "alert", "notify"):
        if not page.exists(f'tr[data-stage="{stage}"]'):
            problems.append(f"pipeline health lists no row for the stage {stage}")
    page.wait("the ingest stage's rates", lambda: "/s" in page.text('tr[data-stage="ingest"] td'))
    log("pipeline health shows the process ready and the stages' rates")


def run_check(args, work):
    run = run_id("consolecheck")
    listen, admin = free_addresses(2)
    receiver = WebhookReceiver()
    hark = None
    hark_log_path = os.path.join(work, "hark.log")
    proxy = None
    driver = None
    problems = []
    try:
        config_path = os.path.join(work, "hark.toml")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(hark_config(run, admin, receiver.url()))
        hark = start_hark(args.hark, config_path, hark_env(run, listen, admin), hark_log_path)
        wait_ready(hark, (listen, admin), START_DEADLINE_S)
        log(f"hark all is up: ingest {listen}, admin {admin} (run {run})")

        lines, texts = stream(run, datetime.now(timezone.utc))
        status, body, _ = call("POST", f"http://{listen}/v1/mentions", "\n".join(lines).encode(), {"content-type": "application/x-ndjson"}, 60)
        report = json.loads(body) if status == 200 else {}
        if status != 200 or report.get("accepted") != len(lines):
            raise Failure(f"POST /v1/mentions of {len(lines)} mentions: HTTP {status} {body[:500]}")
        log(f"{len(lines)} mentions accepted")

        def firing_alert():
            alerts = get_json(f"http://{admin}/v1/alerts")["alerts"]
            return next((a for a in alerts if a["rule"] == SPIKE_RULE and a["state"] == "firing" and a["labels"].get("brand") == BRAND), None)

        alert = wait_for(f"a firing {SPIKE_RULE} alert for {BRAND} in /v1/alerts", firing_alert, ALERT_DEADLINE_S, hark)
        wait_for("the refused notification in /v1/dead-letters", lambda: get_json(f"http://{admin}/v1/dead-letters")["dead_letters"], ALERT_DEADLINE_S, hark)
        log(f"alert {alert['fingerprint']} fires; the receiver refused {len(receiver.refused())} notification(s)")

        if args.assets:
            proxy = start_assets_proxy(os.path.abspath(args.assets), admin)
            console_url = f"http://127.0.0.1:{proxy.server_address[1]}/"
        else:
            status, _, headers = call("GET", f"http://{admin}/console/")
            if status != 200 or not headers.get("content-type", "").startswith("text/html"):
                raise Failure(f"GET /console/ on the admin listener: HTTP {status}; a binary without the console needs --assets")
            console_url = f"http://{admin}/"

        try:
            driver = start_browser(os.path.join(work, "chromium"))
        except Exception as e:  # selenium's errors are many; any of them means no browser
            raise NotStarted(f"Chromium did not start: {e}") from None
        from selenium.common.exceptions import WebDriverException

        try:
            check_console(args, Page(driver), admin, console_url, alert, texts, receiver, problems)
        except WebDriverException as e:
            problems.append(f"the browser: {e.msg}")
        finally:
            if args.screenshot:
                # Tall enough for the alerts and the brand's charts.
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 1700, "deviceScaleFactor": 1, "mobile": False}
                )
                driver.execute_script("window.scrollTo(0, 0)")
                time.sleep(0.5)
                driver.save_screenshot(args.screenshot)
                log(f"screenshot: {args.screenshot}")
            problems.extend(f"the browser logged: {p}" for p in browser_problems(driver, args.skip_new))
        if hark.poll() is not None:
            problems.append(f"hark exited with {hark.returncode} during the check")
    except Failure as e:
        problems.append(str(e))
    finally:
        if driver is not None:
            driver.quit()
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        receiver.stop()
        if hark is not None:
            stop_process(hark)
        clean_up_run(run, log)
        if problems and os.path.exists(hark_log_path):
            log(f"last lines of the hark log:\n{tail(hark_log_path)}")
    for problem in problems:
        log(f"FAILED: {problem}")
    if not problems:
        log("all checks passed" + (" (--skip-new: charts and sample mentions checked as not served)" if args.skip_new else ""))
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hark", help="the hark binary to run")
    parser.add_argument("--screenshot", help="save a 1366×1700 screenshot of the console here")
    parser.add_argument("--skip-new", action="store_true", help="the binary has no /v1/series and /v1/mentions")
    parser.add_argument("--assets", help="serve the console's files from this folder (crates/hark-console/assets)")
    args = parser.parse_args()
    if not os.access(args.hark, os.X_OK):
        log(f"{args.hark} is not an executable")
        return 2
    try:
        import selenium  # noqa: F401
    except ImportError:
        log("selenium is not installed: run this with .hark/venv/bin/python")
        return 2
    work = tempfile.mkdtemp(prefix="hark-console-check-")
    started = time.monotonic()
    try:
        return run_check(args, work)
    except NotStarted as e:
        log(str(e))
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
        log(f"took {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
