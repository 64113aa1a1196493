// What the console's scripts share: building DOM nodes (text always as text, never as
// markup: mention texts and labels come from anyone on the internet) and formatting numbers and times.
"use strict";

window.Hark = window.Hark || {};

Hark.util = (function () {
  const SVG_NS = "http://www.w3.org/2000/svg";

  // Appends children: strings become text nodes, null/undefined/false are skipped, arrays are flattened.
  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.setAttribute("class", value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = value;
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    return node;
  }

  // h("p", {class: "x"}, "text", child): an HTML element.
  function h(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  // s("path", {d: ...}): an SVG element.
  function s(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  // Replaces a container's content, keeping keyboard focus on the element with the same
  // data-key if the focus was inside (polling re-renders lists under the user's cursor).
  function replace(container, ...children) {
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.dataset.key : undefined;
    container.replaceChildren();
    append(container, children);
    if (key !== undefined) {
      const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const shortTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const shortDate = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

  function parseTime(value) {
    if (!value) return null;
    const t = new Date(value);
    return Number.isNaN(t.getTime()) ? null : t;
  }

  // "1 Dec 2026, 14:05:09" in the browser's time zone.
  function formatTime(value) {
    const t = value instanceof Date ? value : parseTime(value);
    return t ? timeFormat.format(t) : "—";
  }

  // "5 min ago", "in 2 h".
  function relative(value, now) {
    const t = value instanceof Date ? value : parseTime(value);
    if (!t) return "";
    const secs = Math.round(((now || Date.now()) - t.getTime()) / 1000);
    const abs = Math.abs(secs);
    let text;
    if (abs < 45) text = `${abs} s`;
    else if (abs < 5400) text = `${Math.round(abs / 60)} min`;
    else if (abs < 172800) text = `${Math.round(abs / 3600)} h`;
    else text = `${Math.round(abs / 86400)} d`;
    return secs >= 0 ? `${text} ago` : `in ${text}`;
  }

  // A <time> element with the local time and, after it, how long ago.
  function timeEl(value, withRelative) {
    const t = parseTime(value);
    if (!t) return h("span", { class: "muted" }, "—");
    const el = h("time", { datetime: t.toISOString(), title: t.toISOString() }, formatTime(t));
    return withRelative === false ? el : h("span", {}, el, h("span", { class: "muted" }, ` (${relative(t)})`));
  }

  function isShareMetric(metric) {
    return typeof metric === "string" && metric.endsWith("_share");
  }

  function trimNumber(x, digits) {
    return Number(x.toFixed(digits)).toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  // A metric's value with its unit: shares (fractions) as %, counts whole, reach in followers.
  function formatValue(value, metric) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    if (isShareMetric(metric)) return `${trimNumber(value * 100, value < 0.1 ? 1 : 0)}%`;
    const unit = metric === "reach" ? " followers" : "";
    return compact(value) + unit;
  }

  // 12,345 → "12.3k"; small numbers as they are, with at most two decimals.
  function compact(value) {
    const abs = Math.abs(value);
    if (abs >= 1e9) return `${trimNumber(value / 1e9, 1)}G`;
    if (abs >= 1e6) return `${trimNumber(value / 1e6, 1)}M`;
    if (abs >= 1e4) return `${trimNumber(value / 1e3, 1)}k`;
    return trimNumber(value, abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
  }

  // A rate per second, "—" before there are two samples.
  function formatRate(value) {
    if (value === null || value === undefined) return "—";
    return `${compact(value)}/s`;
  }

  // Metric names as words: "negative_share" → "negative share".
  function metricWords(metric) {
    return (metric || "").replace(/_/g, " ");
  }

  return { h, s, append, replace, parseTime, formatTime, relative, timeEl, isShareMetric, formatValue, compact,
           formatRate, metricWords, shortTime, shortDate };
})();
