// Requests to the Hark process that served this page (relative URLs: same origin), with the admin
// token if one was given, and the Prometheus text format parsed for the health panel.
"use strict";

Hark.api = (function () {
  const TOKEN_KEY = "hark.console.adminToken";

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
    // A panel whose API this process does not serve (a notify-only process has no /v1/series).
    get notServed() {
      return this.status === 404;
    }
    get needsToken() {
      return this.status === 401;
    }
  }

  const listeners = { unauthorized: [] };
  // The token when sessionStorage cannot keep it.
  let memoryToken = "";

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch (e) {
      return memoryToken;
    }
  }

  function setToken(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      // Storage disabled: the token lasts until the page is reloaded.
    }
    memoryToken = value || "";
  }

  function onUnauthorized(fn) {
    listeners.unauthorized.push(fn);
  }

  // The error text of an answer: Hark's `{"error": "..."}`, or the start of whatever came.
  async function errorText(response) {
    const text = await response.text().catch(() => "");
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string") return body.error;
    } catch (e) {
      // not JSON
    }
    return text.trim().slice(0, 200) || response.statusText || `HTTP ${response.status}`;
  }

  // request("GET", "v1/alerts") → parsed JSON. `accept` lists statuses other than 2xx whose body
  // is the answer (readyz's 503). `text: true` returns the body as text.
  async function request(method, path, options) {
    const opts = options || {};
    const headers = { Accept: opts.text ? "text/plain" : "application/json" };
    const secret = token();
    if (secret) headers.Authorization = `Bearer ${secret}`;
    const init = { method, headers, cache: "no-store", credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") {
      // Hark refuses changes that are not declared JSON (415), even with no body.
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body === undefined ? {} : opts.body);
    }
    let response;
    try {
      response = await fetch(url(path), init);
    } catch (e) {
      throw new HttpError(0, "Hark does not answer (is it running?)");
    }
    if (response.status === 401) {
      const message = await errorText(response);
      for (const fn of listeners.unauthorized) fn(message, Boolean(secret));
      throw new HttpError(401, secret ? `the token was refused: ${message}` : "an admin token is needed");
    }
    if (!response.ok && !(opts.accept || []).includes(response.status)) {
      const message = response.status === 404 ? "not served by this process" : await errorText(response);
      throw new HttpError(response.status, message);
    }
    if (opts.text) return response.text();
    const body = await response.json().catch(() => null);
    if (opts.withStatus) return { status: response.status, body };
    return body;
  }

  // Relative to the page (served at /console/), so a proxy that mounts Hark under a path works too.
  function url(path) {
    return new URL(`../${path}`, document.baseURI).toString();
  }

  // Prometheus text exposition format → [{name, labels, value}]. Comments and timestamps ignored.
  function parseMetrics(text) {
    const samples = [];
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
      if (!m) continue;
      const value = parseValue(m[4]);
      if (value === null) continue;
      samples.push({ name: m[1], labels: m[3] ? parseLabels(m[3]) : {}, value });
    }
    return samples;
  }

  function parseValue(text) {
    if (text === "+Inf") return Infinity;
    if (text === "-Inf") return -Infinity;
    if (text === "NaN") return NaN;
    const v = Number(text);
    return Number.isNaN(v) ? null : v;
  }

  // `a="x",b="y \"quoted\""` → {a: "x", b: "y \"quoted\""}.
  function parseLabels(text) {
    const labels = {};
    const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
    let m;
    while ((m = re.exec(text)) !== null) {
      labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      if (re.lastIndex >= text.length) break;
    }
    return labels;
  }

  return { HttpError, request, token, setToken, onUnauthorized, parseMetrics };
})();
