// One series' closed windows as an inline SVG chart: the observed value as a line, the band the
// detector expected as a shaded area (the expected value dashed inside it), and the windows in
// which an alert was firing shaded across the plot. Drawn by hand: a chart library would be
// larger than the whole console.
"use strict";

Hark.charts = (function () {
  const { s, h, formatValue, isShareMetric, metricWords, shortTime, shortDate } = Hark.util;

  const WIDTH = 640;
  const HEIGHT = 230;
  const MARGIN = { left: 58, right: 14, top: 12, bottom: 34 };
  const MINUTE = 60e3;
  const HOUR = 60 * MINUTE;
  const TICK_STEPS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

  // The point's times as numbers, once.
  function prepare(points) {
    return points
      .map((p) => ({ ...p, t0: Date.parse(p.start), t1: Date.parse(p.end) }))
      .filter((p) => Number.isFinite(p.t0) && Number.isFinite(p.t1) && Number.isFinite(p.observed))
      .sort((a, b) => a.t0 - b.t0);
  }

  // A round upper bound for the y axis and its tick step (1, 2 or 5 × 10^k).
  function niceScale(max, share) {
    let top = max > 0 ? max * 1.1 : share ? 0.1 : 1;
    if (share) top = Math.min(1, Math.max(top, 0.05));
    const rough = top / 4;
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((m) => m >= rough);
    return { top: Math.ceil(top / step - 1e-9) * step, step };
  }

  // Ticks on round local times (every 5 min … every day), at most `max` of them.
  function timeTicks(from, to, max) {
    const step = TICK_STEPS.find((st) => (to - from) / st <= max) || TICK_STEPS[TICK_STEPS.length - 1];
    const offset = -new Date(from).getTimezoneOffset() * MINUTE;
    const ticks = [];
    for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) ticks.push(t);
    return ticks;
  }

  // Runs of consecutive points for which `keep` holds, broken where a window is missing.
  function runs(points, keep) {
    const out = [];
    let run = [];
    for (const p of points) {
      const prev = run[run.length - 1];
      if (!keep(p) || (prev && p.t0 - prev.t1 > 1000)) {
        if (run.length) out.push(run);
        run = [];
      }
      if (keep(p)) run.push(p);
    }
    if (run.length) out.push(run);
    return out;
  }

  function pointTitle(p, metric, kind) {
    const when = `${shortTime.format(p.t0)}–${shortTime.format(p.t1)}`;
    let text = `${when}: ${formatValue(p.observed, metric)}`;
    if (p.expected !== null && p.expected !== undefined) {
      text += kind === "threshold" ? ` (bound ${formatValue(p.expected, metric)})` : ` (expected ${formatValue(p.expected, metric)})`;
    } else if (kind === "spike") {
      text += " (still learning)";
    }
    if (Number.isFinite(p.volume)) text += `, ${p.hits} of ${p.volume} mentions`;
    if (p.firing) text += ", alert firing";
    return text;
  }

  // The chart of one series: an <svg> with data-series (fingerprint) and data-rule.
  function chart(series) {
    const metric = series.metric;
    const share = isShareMetric(metric);
    const points = prepare(series.points || []);
    const titleId = `chart-title-${series.fingerprint}`;
    const svg = s("svg", {
      class: "chart",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-labelledby": titleId,
      "data-series": series.fingerprint,
      "data-rule": series.rule,
      "data-metric": metric,
      "data-points": points.length,
    });
    svg.appendChild(s("title", { id: titleId }, describe(series, points)));
    if (!points.length) {
      svg.appendChild(s("text", { x: WIDTH / 2, y: HEIGHT / 2, class: "chart-empty", "text-anchor": "middle" }, "No closed windows yet"));
      return svg;
    }

    const from = points[0].t0;
    const to = Math.max(points[points.length - 1].t1, from + MINUTE);
    const values = [];
    for (const p of points) {
      for (const v of [p.observed, p.high, p.expected]) if (Number.isFinite(v)) values.push(v);
    }
    const scale = niceScale(Math.max(...values), share);
    const plot = { x0: MARGIN.left, x1: WIDTH - MARGIN.right, y0: HEIGHT - MARGIN.bottom, y1: MARGIN.top };
    const x = (t) => plot.x0 + ((t - from) / (to - from)) * (plot.x1 - plot.x0);
    const y = (v) => plot.y0 - (Math.min(v, scale.top) / scale.top) * (plot.y0 - plot.y1);
    const mid = (p) => x((p.t0 + p.t1) / 2);
    const f = (n) => n.toFixed(1);

    // Alert periods behind everything else.
    const firing = s("g", { class: "firing-periods" });
    for (const run of runs(points, (p) => p.firing)) {
      const a = x(run[0].t0);
      const b = x(run[run.length - 1].t1);
      const label = `Alert firing ${shortTime.format(run[0].t0)}–${shortTime.format(run[run.length - 1].t1)}`;
      firing.appendChild(s("rect", { class: "firing-period", x: f(a), y: plot.y1, width: f(Math.max(b - a, 1)),
                                     height: plot.y0 - plot.y1 }, s("title", {}, label)));
      firing.appendChild(s("rect", { class: "firing-mark", x: f(a), y: plot.y1 - 4, width: f(Math.max(b - a, 1)), height: 4 }));
    }
    svg.appendChild(firing);

    // Grid and y axis.
    const axes = s("g", { class: "axes" });
    for (let v = 0; v <= scale.top + 1e-9; v += scale.step) {
      axes.appendChild(s("line", { class: "grid", x1: plot.x0, x2: plot.x1, y1: f(y(v)), y2: f(y(v)) }));
      axes.appendChild(s("text", { class: "tick", x: plot.x0 - 6, y: f(y(v) + 4), "text-anchor": "end" }, formatValue(v, metric)));
    }
    let lastDay = "";
    for (const t of timeTicks(from, to, 7)) {
      const day = shortDate.format(t);
      axes.appendChild(s("line", { class: "tick-mark", x1: f(x(t)), x2: f(x(t)), y1: plot.y0, y2: plot.y0 + 4 }));
      const label = s("text", { class: "tick", x: f(x(t)), y: plot.y0 + 16, "text-anchor": "middle" }, shortTime.format(t));
      if (day !== lastDay) {
        label.appendChild(s("tspan", { x: f(x(t)), dy: 12, class: "tick-date" }, day));
        lastDay = day;
      }
      axes.appendChild(label);
    }
    axes.appendChild(s("line", { class: "axis", x1: plot.x0, x2: plot.x1, y1: plot.y0, y2: plot.y0 }));
    svg.appendChild(axes);

    // The expected band: each window's low..high as a step, so it shows what each window was judged against.
    const band = s("g", { class: "band" });
    for (const run of runs(points, (p) => Number.isFinite(p.high))) {
      const upper = [];
      const lower = [];
      for (const p of run) {
        const low = Number.isFinite(p.low) ? p.low : 0;
        upper.push(`${f(x(p.t0))},${f(y(p.high))}`, `${f(x(p.t1))},${f(y(p.high))}`);
        lower.unshift(`${f(x(p.t1))},${f(y(low))}`, `${f(x(p.t0))},${f(y(low))}`);
      }
      band.appendChild(s("polygon", { class: "expected-band", points: upper.concat(lower).join(" ") }));
    }
    svg.appendChild(band);

    for (const run of runs(points, (p) => Number.isFinite(p.expected))) {
      const d = run.map((p) => `${f(mid(p))},${f(y(p.expected))}`).join(" ");
      svg.appendChild(s("polyline", { class: series.kind === "threshold" ? "expected-line bound" : "expected-line", points: d }));
    }

    for (const run of runs(points, () => true)) {
      const d = run.map((p) => `${f(mid(p))},${f(y(p.observed))}`).join(" ");
      svg.appendChild(s("polyline", { class: "observed-line", points: d }));
    }
    const dots = s("g", { class: "points" });
    for (const p of points) {
      dots.appendChild(s("circle", { class: p.firing ? "point firing" : "point", cx: f(mid(p)), cy: f(y(p.observed)), r: p.firing ? 2.6 : 2,
                                     "data-start": p.start }, s("title", {}, pointTitle(p, metric, series.kind))));
    }
    svg.appendChild(dots);
    return svg;
  }

  // One sentence for screen readers and the chart's tooltip.
  function describe(series, points) {
    const name = `${series.rule}: ${metricWords(series.metric)}`;
    if (!points.length) return `${name}, no closed windows yet`;
    const last = points[points.length - 1];
    const firingWindows = points.filter((p) => p.firing).length;
    let text = `${name}, ${points.length} windows from ${shortTime.format(points[0].t0)} to ${shortTime.format(last.t1)}; ` +
      `last ${formatValue(last.observed, series.metric)}`;
    if (Number.isFinite(last.expected)) text += ` against ${series.kind === "threshold" ? "a bound of" : "an expected"} ${formatValue(last.expected, series.metric)}`;
    text += firingWindows ? `; an alert was firing in ${firingWindows} of them` : "; no alert";
    return text;
  }

  // The legend under each chart, as HTML so it reads in order.
  function legend(kind) {
    const item = (cls, text) => h("li", {}, h("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), text);
    return h("ul", { class: "legend" },
      item("observed", "observed"),
      item("band", kind === "threshold" ? "below the bound" : "expected band"),
      item("expected", kind === "threshold" ? "bound" : "expected"),
      item("firing", "alert firing"));
  }

  return { chart, legend, describe };
})();
