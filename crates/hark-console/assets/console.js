// The console's panels: alerts with their sample mentions, each brand's charts, silences, dead
// letters and the outbox, and pipeline health. Everything is read again every 5 s, except while
// a form is being edited, so a poll never changes what the user is typing into.
"use strict";

(function () {
  const { h, replace, timeEl, formatTime, formatValue, formatRate, compact, metricWords } = Hark.util;
  const api = Hark.api;
  const charts = Hark.charts;

  const POLL_MS = 5000;
  const MAX_RESOLVED = 20;
  const MAX_OLD_SILENCES = 20;
  const MAX_IDS_PER_REQUEST = 100;
  const SAMPLES_SHOWN = 3;
  const STAGES = ["ingest", "enrich", "route", "alert", "notify"];
  const BRAND_KEY = "hark.console.brand";
  const CREATED_BY_KEY = "hark.console.createdBy";

  const $ = (id) => document.getElementById(id);

  const state = {
    alerts: [],
    selectedBrand: load(sessionStorage, BRAND_KEY),
    // A brand remembered from earlier in this tab is shown only while it still has windows;
    // one chosen on this page is shown even before it has any.
    brandChosenHere: false,
    // id → enriched mention, or null once the alert stage says it no longer keeps it.
    mentions: new Map(),
    mentionsError: null,
    // fingerprint → "spike" | "threshold", from the series seen: a threshold's expected value is its bound.
    seriesKinds: new Map(),
    // <details> the user opened or closed, by key.
    detailsOpen: new Map(),
    previousMetrics: null,
    // The signature of what each panel last drew: unchanged data is not drawn again.
    drawn: {},
    silenceFor: null,
    timer: null,
    polling: false,
    pollAgain: false,
  };

  function load(storage, key) {
    try {
      return storage.getItem(key) || null;
    } catch (e) {
      return null;
    }
  }

  function store(storage, key, value) {
    try {
      if (value) storage.setItem(key, value);
      else storage.removeItem(key);
    } catch (e) {
      // Storage disabled: remembered for this page only.
    }
  }

  // Draws a panel only when its data (or the minute, for "5 min ago") changed.
  function draw(name, container, data, render) {
    const signature = JSON.stringify([data, Math.floor(Date.now() / 60000)]);
    if (state.drawn[name] === signature) return;
    replace(container, render());
    state.drawn[name] = signature;
  }

  // Why a panel is empty: not served here, a token is needed, or the error Hark gave. False
  // when something went wrong; a panel this process does not serve is not an error.
  function failure(name, container, error) {
    state.drawn[name] = null;
    if (error instanceof api.HttpError && error.notServed) {
      replace(container, h("p", { class: "not-served" }, "Not served by this process."));
      return true;
    } else if (error instanceof api.HttpError && error.needsToken) {
      replace(container, h("p", { class: "muted" }, "Needs an admin token (see the form at the top)."));
    } else {
      replace(container, h("p", { class: "error" }, `Could not load: ${error.message || error}`));
      console.warn(name, error);
    }
    return false;
  }

  function announce(text) {
    const el = $("action-status");
    el.textContent = "";
    // Emptied first, so that screen readers repeat a message identical to the last one.
    window.setTimeout(() => { el.textContent = text; }, 50);
  }

  // ---------------------------------------------------------------------------------------------
  // Alerts

  async function loadAlerts() {
    const body = $("alerts-body");
    try {
      const answer = await api.request("GET", "v1/alerts");
      state.alerts = Array.isArray(answer && answer.alerts) ? answer.alerts : [];
    } catch (e) {
      return failure("alerts", body, e);
    }
    await loadMentions(shownAlerts().flatMap((a) => a.sample_mention_ids || []));
    drawAlerts();
    return true;
  }

  function drawAlerts() {
    const shown = shownAlerts();
    const mentions = shown.flatMap((a) => (a.sample_mention_ids || []).map((id) => [id, state.mentions.get(id)]));
    const kinds = shown.map((a) => state.seriesKinds.get(a.fingerprint));
    draw("alerts", $("alerts-body"), [shown, mentions, state.mentionsError, state.selectedBrand, kinds], () => renderAlerts(shown));
  }

  function byTimeDesc(field) {
    return (a, b) => (Date.parse(b[field] || b.generated_at) || 0) - (Date.parse(a[field] || a.generated_at) || 0);
  }

  // Firing alerts, newest first, then the most recently resolved.
  function shownAlerts() {
    const firing = state.alerts.filter((a) => a.state === "firing").sort(byTimeDesc("starts_at"));
    const resolved = state.alerts.filter((a) => a.state !== "firing").sort(byTimeDesc("ends_at")).slice(0, MAX_RESOLVED);
    return firing.concat(resolved);
  }

  function renderAlerts(shown) {
    const firing = shown.filter((a) => a.state === "firing");
    const resolved = shown.filter((a) => a.state !== "firing");
    const older = state.alerts.length - shown.length;
    return [
      h("h3", { class: "group-title" }, `Firing (${firing.length})`),
      firing.length ? h("div", { class: "alert-list" }, firing.map(alertCard)) : h("p", { class: "muted" }, "Nothing is firing."),
      h("h3", { class: "group-title" }, `Recently resolved (${resolved.length})`),
      resolved.length ? h("div", { class: "alert-list" }, resolved.map(alertCard)) : h("p", { class: "muted" }, "None."),
      older > 0 ? h("p", { class: "muted" }, `${older} older resolved alerts not shown.`) : null,
    ];
  }

  function alertCard(a) {
    const labels = a.labels || {};
    const brand = labels.brand || "";
    const silencedBy = a.silenced_by || [];
    const firing = a.state === "firing";
    const titleId = `alert-${a.fingerprint}-title`;
    const classes = ["alert-card", firing ? "firing" : "resolved"];
    if (silencedBy.length) classes.push("is-silenced");
    if (brand && brand === state.selectedBrand) classes.push("selected");
    const facts = [
      ["Started", timeEl(a.starts_at)],
      a.ends_at ? ["Ended", timeEl(a.ends_at)] : null,
      Number.isFinite(a.observed) ? ["Observed", observedText(a)] : null,
      ["Silenced", silencedBy.length
        ? h("span", { class: "silenced-by" }, `Yes, by ${silencedBy.join(", ")}`)
        : h("span", { class: "not-silenced" }, "No")],
      ["Labels", labelChips(labels)],
    ].filter(Boolean);
    return h("article", {
      class: classes.join(" "),
      "data-fingerprint": a.fingerprint,
      "data-brand": brand,
      "data-state": a.state,
      "aria-labelledby": titleId,
      onclick: (event) => {
        // The card selects its brand's charts; its own buttons and links do what they say.
        if (brand && !event.target.closest("button, a, summary, input, select, textarea")) selectBrand(brand, false);
      },
    },
    h("header", { class: "alert-head" },
      h("span", { class: `badge ${firing ? "firing" : "resolved"}` }, firing ? "Firing" : "Resolved"),
      silencedBy.length ? h("span", { class: "badge silenced" }, "Silenced") : null,
      h("h4", { id: titleId, class: "alert-rule" }, a.rule),
      brand ? h("button", {
        type: "button", class: "link brand-button", "data-key": `brand:${a.fingerprint}`,
        "aria-label": `${brand}: show its charts`, onclick: () => selectBrand(brand, true),
      }, brand) : null),
    h("p", { class: "summary" }, a.summary || ""),
    h("dl", { class: "facts" }, facts.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value)))),
    sampleMentions(a),
    h("div", { class: "card-actions" },
      firing ? h("button", { type: "button", class: "silence-button", "data-key": `silence:${a.fingerprint}`,
                             onclick: (event) => openSilenceForm(a, event.currentTarget) }, "Silence…") : null,
      brand ? h("button", { type: "button", class: "charts-button", "data-key": `charts:${a.fingerprint}`,
                            onclick: () => selectBrand(brand, true) }, `Charts of ${brand}`) : null));
  }

  function observedText(a) {
    const metric = (a.labels || {}).metric;
    let text = formatValue(a.observed, metric);
    if (Number.isFinite(a.expected)) {
      const bound = state.seriesKinds.get(a.fingerprint) === "threshold";
      text += bound ? ` vs a bound of ${formatValue(a.expected, metric)}` : ` vs ${formatValue(a.expected, metric)} expected`;
    }
    if (metric) text += ` (${metricWords(metric)})`;
    return text;
  }

  function labelChips(labels) {
    const entries = Object.entries(labels);
    if (!entries.length) return h("span", { class: "muted" }, "none");
    return h("ul", { class: "chips" }, entries.map(([k, v]) => h("li", { class: "chip" }, `${k}=${v}`)));
  }

  // The mentions the alert cites, from the alert stage's /v1/mentions.
  function sampleMentions(a) {
    const ids = a.sample_mention_ids || [];
    if (!ids.length) return null;
    let body;
    if (state.mentionsError && ids.every((id) => !state.mentions.has(id))) {
      body = [h("p", { class: "muted" }, `Sample mentions: ${state.mentionsError}. Ids: `, h("code", {}, ids.join(", ")))];
    } else {
      // A few in sight, the rest one click away, so a card does not fill the screen.
      const first = ids.slice(0, SAMPLES_SHOWN);
      const rest = ids.slice(SAMPLES_SHOWN);
      body = [
        h("ul", { class: "mentions" }, first.map((id) => mentionItem(id, state.mentions.get(id)))),
        rest.length ? details(`more:${a.fingerprint}`, false, "more-mentions",
          h("summary", { "data-key": `more:${a.fingerprint}` }, `${rest.length} more`),
          h("ul", { class: "mentions" }, rest.map((id) => mentionItem(id, state.mentions.get(id))))) : null,
      ];
    }
    return details(`samples:${a.fingerprint}`, a.state === "firing", "samples",
      h("summary", { "data-key": `samples:${a.fingerprint}` }, `Sample mentions (${ids.length})`), body);
  }

  function mentionItem(id, enriched) {
    if (enriched === undefined) return h("li", { class: "mention muted", "data-mention-id": id }, `${id}: loading…`);
    if (enriched === null) return h("li", { class: "mention muted", "data-mention-id": id }, `${id}: no longer kept`);
    const m = enriched.mention || {};
    const e = enriched.enrichment || {};
    const author = m.author || {};
    const who = author.handle ? `@${author.handle.replace(/^@/, "")}` : author.id || "unknown author";
    const link = typeof m.url === "string" && /^https?:\/\//i.test(m.url)
      ? h("a", { href: m.url, rel: "noopener noreferrer", target: "_blank" }, "open")
      : null;
    return h("li", { class: "mention", "data-mention-id": id },
      h("p", { class: "mention-text", lang: e.lang && e.lang.code !== "und" ? e.lang.code : null }, m.text || ""),
      h("p", { class: "mention-meta" },
        h("span", { class: "author" }, who, author.name ? ` (${author.name})` : ""), " · ",
        h("span", { class: "platform" }, m.platform || "?"), " · ",
        timeEl(m.created_at, false),
        link ? [" · ", link] : null),
      h("ul", { class: "chips" }, mentionLabels(e).map(([cls, text, title]) => h("li", { class: `chip ${cls}`, title }, text))));
  }

  // [class, text, tooltip] for lang, sentiment, intent, spam and offensive.
  function mentionLabels(e) {
    const out = [];
    if (e.lang) out.push(["lang", `lang ${e.lang.code}`, `confidence ${pct(e.lang.confidence)}`]);
    if (e.sentiment) out.push([`sentiment-${e.sentiment.label}`, e.sentiment.label, `score ${num(e.sentiment.score)}, confidence ${pct(e.sentiment.confidence)}`]);
    if (e.intent) out.push(["intent", (e.intent.label || "").replace(/_/g, " "), `confidence ${pct(e.intent.confidence)}`]);
    if (e.spam) out.push([e.spam.is_spam ? "flag" : "", e.spam.is_spam ? "spam" : "not spam", `score ${num(e.spam.score)}${(e.spam.reasons || []).length ? ": " + e.spam.reasons.join(", ") : ""}`]);
    if (e.offensive) out.push([e.offensive.is_offensive ? "flag" : "", e.offensive.is_offensive ? "offensive" : "not offensive", `score ${num(e.offensive.score)}`]);
    return out;
  }

  // A <details> that stays open or closed as the user left it when the panel is drawn again.
  function details(key, openByDefault, cls, ...children) {
    const open = state.detailsOpen.has(key) ? state.detailsOpen.get(key) : openByDefault;
    const el = h("details", { class: cls, open }, ...children);
    el.addEventListener("toggle", () => state.detailsOpen.set(key, el.open));
    return el;
  }

  const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "?");
  const num = (x) => (Number.isFinite(x) ? x.toFixed(2) : "?");

  // Fetches the sample mentions not yet known, 100 a request; keeps only those still cited.
  async function loadMentions(ids) {
    const wanted = new Set(ids);
    for (const id of [...state.mentions.keys()]) if (!wanted.has(id)) state.mentions.delete(id);
    const unknown = [...wanted].filter((id) => !state.mentions.has(id));
    state.mentionsError = null;
    for (let i = 0; i < unknown.length; i += MAX_IDS_PER_REQUEST) {
      const chunk = unknown.slice(i, i + MAX_IDS_PER_REQUEST);
      try {
        const answer = await api.request("GET", `v1/mentions?ids=${chunk.map(encodeURIComponent).join(",")}`);
        for (const m of (answer && answer.mentions) || []) {
          const mention = m.mention || {};
          state.mentions.set(`${mention.platform}:${mention.id}`, m);
        }
        for (const id of (answer && answer.missing) || []) state.mentions.set(id, null);
        // An id answered under another spelling than asked: do not ask again and again.
        for (const id of chunk) if (!state.mentions.has(id)) state.mentions.set(id, null);
      } catch (e) {
        state.mentionsError = e instanceof api.HttpError && e.notServed ? "not served by this process" : `could not load (${e.message})`;
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Silence form

  // `value` as a matcher value: quoted when the parser would otherwise trim or unquote it.
  function matcherValue(value) {
    return /^\s|\s$|^"/.test(value) ? `"${value}"` : value;
  }

  function openSilenceForm(alert, opener) {
    const dialog = $("silence-dialog");
    const labels = alert.labels || {};
    const lines = [`rule=${matcherValue(alert.rule)}`];
    for (const [key, value] of Object.entries(labels)) {
      if (key === "rule" || key === "alertname") continue;
      lines.push(`${key}=${matcherValue(value)}`);
    }
    state.silenceFor = { fingerprint: alert.fingerprint, opener };
    $("silence-title").textContent = `Silence ${alert.rule}${labels.brand ? ` for ${labels.brand}` : ""}`;
    $("silence-matchers").value = lines.join("\n");
    $("silence-duration").value = "2h";
    $("silence-comment").value = "";
    $("silence-created-by").value = load(localStorage, CREATED_BY_KEY) || "";
    $("silence-error").textContent = "";
    $("silence-submit").disabled = false;
    dialog.dataset.fingerprint = alert.fingerprint;
    dialog.showModal();
    $("silence-matchers").focus();
  }

  // "2h", "90m", "1d 12h", "1h30m", "45s" → seconds; a bare number is hours.
  function parseDuration(text) {
    const t = text.trim().toLowerCase();
    if (/^\d+(\.\d+)?$/.test(t)) return Math.round(parseFloat(t) * 3600);
    const re = /(\d+(?:\.\d+)?)\s*(d|h|m|s)/gy;
    const unit = { d: 86400, h: 3600, m: 60, s: 1 };
    let total = 0;
    let at = 0;
    let m;
    while (at < t.length && (m = re.exec(t)) !== null) {
      total += parseFloat(m[1]) * unit[m[2]];
      at = re.lastIndex;
      while (t[at] === " ") at += 1;
      re.lastIndex = at;
    }
    return at === t.length && total > 0 ? Math.round(total) : null;
  }

  async function submitSilence(event) {
    event.preventDefault();
    const error = $("silence-error");
    const matchers = $("silence-matchers").value.split("\n").map((l) => l.trim()).filter(Boolean);
    const duration = parseDuration($("silence-duration").value);
    if (!matchers.length) {
      error.textContent = "Give at least one matcher.";
      $("silence-matchers").focus();
      return;
    }
    if (!duration) {
      error.textContent = "The duration is not one I can read: write e.g. 30m, 2h or 1d.";
      $("silence-duration").focus();
      return;
    }
    const createdBy = $("silence-created-by").value.trim();
    store(localStorage, CREATED_BY_KEY, createdBy);
    const submit = $("silence-submit");
    submit.disabled = true;
    error.textContent = "";
    try {
      const silence = await api.request("POST", "v1/silences", {
        body: { matchers, duration_secs: duration, comment: $("silence-comment").value.trim(), created_by: createdBy },
      });
      // Closing polls at once (the close handler), so the alert shows as silenced.
      $("silence-dialog").close("created");
      announce(`Silence ${silence && silence.id} created, until ${formatTime(silence && silence.ends_at)}.`);
    } catch (e) {
      error.textContent = `Hark refused the silence: ${e.message}`;
      submit.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Brand charts

  function selectBrand(brand, reveal) {
    if (!brand) return;
    state.selectedBrand = brand;
    state.brandChosenHere = true;
    store(sessionStorage, BRAND_KEY, brand);
    for (const card of document.querySelectorAll(".alert-card")) card.classList.toggle("selected", card.dataset.brand === brand);
    const select = $("brand-select");
    if ([...select.options].some((o) => o.value === brand)) select.value = brand;
    announce(`Showing the charts of ${brand}.`);
    loadCharts();
    if (reveal) {
      const section = $("charts");
      section.scrollIntoView({ block: "start" });
      section.focus({ preventScroll: true });
    }
  }

  // The brand to chart: the one chosen, else the newest firing alert's, else the first listed.
  function shownBrand(brands) {
    if (state.selectedBrand && (state.brandChosenHere || brands.includes(state.selectedBrand))) return state.selectedBrand;
    const firing = shownAlerts().find((a) => a.state === "firing" && brands.includes((a.labels || {}).brand));
    return firing ? firing.labels.brand : brands[0] || null;
  }

  let chartsRequest = 0;

  async function loadCharts() {
    const body = $("charts-body");
    const select = $("brand-select");
    const request = ++chartsRequest;
    let answer;
    try {
      const listed = await api.request("GET", "v1/series");
      const brands = (listed && listed.brands) || [];
      fillBrands(select, brands);
      const brand = shownBrand(brands);
      if (!brand) {
        state.drawn.charts = null;
        replace(body, h("p", { class: "muted" }, "No brand has closed windows yet."));
        return true;
      }
      state.selectedBrand = brand;
      if (brands.includes(brand)) select.value = brand;
      answer = await api.request("GET", `v1/series?brand=${encodeURIComponent(brand)}&hours=24`);
      if (request !== chartsRequest) return true; // a newer choice of brand is on its way
      answer.brand = brand;
      for (const series of answer.series || []) state.seriesKinds.set(series.fingerprint, series.kind);
    } catch (e) {
      select.disabled = true;
      return failure("charts", body, e);
    }
    draw("charts", body, answer, () => renderCharts(answer));
    return true;
  }

  function fillBrands(select, brands) {
    const current = [...select.options].map((o) => o.value).join("\n");
    const listed = new Set(brands);
    // A brand chosen from an alert before it has windows is still the one shown.
    if (state.brandChosenHere && state.selectedBrand) listed.add(state.selectedBrand);
    const sorted = [...listed].sort((a, b) => a.localeCompare(b));
    if (current !== sorted.join("\n")) {
      const chosen = state.selectedBrand;
      select.replaceChildren(...sorted.map((b) => h("option", { value: b }, b)));
      if (chosen && sorted.includes(chosen)) select.value = chosen;
    }
    select.disabled = sorted.length === 0;
    if (!sorted.length) select.replaceChildren(h("option", { value: "" }, "(no brands yet)"));
  }

  function renderCharts(answer) {
    const series = (answer.series || []).slice().sort((a, b) => (a.rule + a.fingerprint).localeCompare(b.rule + b.fingerprint));
    const windowMinutes = Math.round((answer.window_secs || 0) / 60);
    const intro = h("p", { class: "muted" },
      `${answer.brand}: ${series.length} series, last 24 h of closed ${windowMinutes}-minute windows (event time, shown in your time zone).`);
    if (!series.length) return [intro, h("p", { class: "muted" }, "No series for this brand.")];
    return [intro, h("div", { class: "chart-grid" }, series.map(chartCard))];
  }

  function chartCard(series) {
    const points = series.points || [];
    const last = points[points.length - 1];
    const extra = Object.entries(series.labels || {}).filter(([k]) => k !== "brand" && k !== "metric");
    return h("figure", { class: "chart-card", "data-fingerprint": series.fingerprint },
      h("figcaption", {},
        h("span", { class: "chart-title" }, `${series.rule} — ${metricWords(series.metric)}`),
        h("span", { class: "chip" }, series.kind),
        last && last.firing ? h("span", { class: "badge firing" }, "Firing") : null,
        extra.length ? h("span", { class: "muted chart-labels" }, extra.map(([k, v]) => `${k}=${v}`).join(" ")) : null),
      charts.chart(series),
      charts.legend(series.kind));
  }

  // ---------------------------------------------------------------------------------------------
  // Silences

  function matcherText(m) {
    if (typeof m === "string") return m;
    if (!m || typeof m !== "object") return String(m);
    const value = m.value === "" || /\s|"/.test(m.value) ? JSON.stringify(m.value) : m.value;
    return `${m.name}${m.op}${value}`;
  }

  function silenceState(silence, now) {
    if (silence.active) return "active";
    return Date.parse(silence.starts_at) > now ? "pending" : "expired";
  }

  async function loadSilences() {
    const body = $("silences-body");
    let silences;
    try {
      const answer = await api.request("GET", "v1/silences");
      silences = (answer && answer.silences) || [];
    } catch (e) {
      return failure("silences", body, e);
    }
    draw("silences", body, silences, () => renderSilences(silences));
    return true;
  }

  function renderSilences(silences) {
    const now = Date.now();
    const rank = { active: 0, pending: 1, expired: 2 };
    const sorted = silences.map((sl) => ({ ...sl, shownState: silenceState(sl, now) })).sort((a, b) =>
      rank[a.shownState] - rank[b.shownState] ||
      (a.shownState === "expired" ? Date.parse(b.ends_at) - Date.parse(a.ends_at) : Date.parse(a.ends_at) - Date.parse(b.ends_at)));
    const live = sorted.filter((sl) => sl.shownState !== "expired");
    const expired = sorted.filter((sl) => sl.shownState === "expired");
    const shown = live.concat(expired.slice(0, MAX_OLD_SILENCES));
    if (!shown.length) return h("p", { class: "muted" }, "No silences.");
    return [
      h("p", { class: "muted" }, `${live.length} active or pending, ${expired.length} expired.`),
      h("table", { class: "data-table silences-table" },
        h("caption", { class: "visually-hidden" }, "Silences, active first"),
        h("thead", {}, h("tr", {}, ["State", "Matchers", "Starts", "Ends", "Created by", "Comment", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, shown.map((sl) => h("tr", { "data-silence-id": sl.id, class: sl.shownState },
          h("td", {}, h("span", { class: `badge ${sl.shownState}` }, sl.shownState), h("div", { class: "muted id" }, sl.id)),
          h("td", {}, h("ul", { class: "chips" }, (sl.matchers || []).map((m) => h("li", { class: "chip" }, matcherText(m))))),
          h("td", {}, timeEl(sl.starts_at)),
          h("td", {}, timeEl(sl.ends_at)),
          h("td", {}, sl.created_by || h("span", { class: "muted" }, "—")),
          h("td", { class: "comment" }, sl.comment || h("span", { class: "muted" }, "—")),
          h("td", {}, sl.shownState === "expired" ? null : h("button", {
            type: "button", class: "expire-button", "data-key": `expire:${sl.id}`,
            "aria-label": `Expire silence ${sl.id}`, onclick: (event) => expireSilence(sl.id, event.currentTarget),
          }, "Expire")))))),
      expired.length > MAX_OLD_SILENCES ? h("p", { class: "muted" }, `${expired.length - MAX_OLD_SILENCES} older expired silences not shown.`) : null,
    ];
  }

  async function expireSilence(id, button) {
    button.disabled = true;
    try {
      await api.request("DELETE", `v1/silences/${encodeURIComponent(id)}`);
      announce(`Silence ${id} expired.`);
    } catch (e) {
      announce(`Could not expire silence ${id}: ${e.message}`);
      button.disabled = false;
    }
    await poll();
  }

  // ---------------------------------------------------------------------------------------------
  // Dead letters and outbox

  async function loadDeadLetters() {
    const body = $("dead-letters-body");
    let letters;
    try {
      const answer = await api.request("GET", "v1/dead-letters");
      letters = (answer && answer.dead_letters) || [];
    } catch (e) {
      return failure("dead-letters", body, e);
    }
    draw("dead-letters", body, letters, () => renderDeadLetters(letters));
    return true;
  }

  function renderDeadLetters(letters) {
    if (!letters.length) return h("p", { class: "muted" }, "No dead letters: every receiver took what it was sent.");
    const newestFirst = letters.slice().sort((a, b) => Date.parse(b.failed_at) - Date.parse(a.failed_at));
    return h("table", { class: "data-table dead-letters-table" },
      h("caption", { class: "visually-hidden" }, "Deliveries the receivers refused, newest first"),
      h("thead", {}, h("tr", {}, ["Receiver", "Notification", "Reason", "Status", "Failed at", "Attempts", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, newestFirst.map((dl) => {
        const d = dl.delivery || {};
        return h("tr", { "data-delivery-id": d.id },
          h("td", {}, d.receiver),
          h("td", {}, h("code", {}, d.notification_id || d.id), h("div", { class: "muted" }, `${d.status || "?"}, ${(d.fingerprints || []).length} alert(s)`)),
          h("td", { class: "reason" }, dl.reason, dl.response_body ? h("div", { class: "muted response", title: dl.response_body }, dl.response_body.slice(0, 160)) : null),
          h("td", {}, dl.status === null || dl.status === undefined ? "—" : `HTTP ${dl.status}`),
          h("td", {}, timeEl(dl.failed_at)),
          h("td", {}, String(dl.attempts)),
          h("td", {}, h("button", {
            type: "button", class: "replay-button", "data-key": `replay:${d.id}`,
            "aria-label": `Replay notification ${d.id} to ${d.receiver}`, onclick: (event) => replay(d, event.currentTarget),
          }, "Replay")));
      })));
  }

  async function replay(delivery, button) {
    button.disabled = true;
    try {
      const answer = await api.request("POST", `v1/dead-letters/${encodeURIComponent(delivery.id)}/replay`);
      announce(`Notification ${answer.replayed} is back in the outbox of ${answer.receiver}.`);
    } catch (e) {
      announce(`Could not replay ${delivery.id}: ${e.message}`);
      button.disabled = false;
    }
    await poll();
  }

  async function loadOutbox() {
    const body = $("outbox-body");
    let outbox;
    try {
      outbox = await api.request("GET", "v1/outbox");
    } catch (e) {
      return failure("outbox", body, e);
    }
    draw("outbox", body, outbox, () => renderOutbox(outbox || {}));
    return true;
  }

  function renderOutbox(outbox) {
    const receivers = Object.entries(outbox.receivers || {});
    const sender = outbox.sender
      ? h("p", {}, "Sending: notifier ", h("code", {}, outbox.sender), " holds the lease.")
      : h("p", { class: "warning" }, "No notifier holds the lease: nothing is being sent.");
    if (!receivers.length) return [sender, h("p", { class: "muted" }, "No receivers are configured: alerts are only kept and listed.")];
    return [sender, h("table", { class: "data-table outbox-table" },
      h("caption", { class: "visually-hidden" }, "Deliveries waiting per receiver"),
      h("thead", {}, h("tr", {}, ["Receiver", "Waiting", "Last error", "Last delivered"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, receivers.map(([name, r]) => {
        const error = r.last_error;
        // The last error is kept after later deliveries: it is news only if newer than the last delivery.
        const current = error && (!r.last_delivered_at || Date.parse(error.at) > Date.parse(r.last_delivered_at));
        return h("tr", { "data-receiver": name, class: current ? "failing" : "" },
          h("td", {}, name),
          h("td", { class: r.waiting > 0 ? "warning" : "" }, String(r.waiting)),
          h("td", {}, error ? [h("span", { class: current ? "error" : "muted" }, error.reason), h("div", { class: "muted" }, timeEl(error.at))] : h("span", { class: "muted" }, "none")),
          h("td", {}, timeEl(r.last_delivered_at)));
      })))];
  }

  // ---------------------------------------------------------------------------------------------
  // Pipeline health

  async function loadReadiness() {
    const body = $("readiness-body");
    let answer;
    try {
      answer = await api.request("GET", "readyz", { accept: [503], withStatus: true });
    } catch (e) {
      return failure("readiness", body, e);
    }
    const ready = answer.body || {};
    draw("readiness", body, ready, () => {
      if (ready.ready) return h("p", { class: "ready", "data-ready": "true" }, h("span", { class: "badge ok" }, "Ready"), " Every readiness check of this process passes.");
      const failed = Object.entries(ready.failed || {});
      return [
        h("p", { class: "not-ready", "data-ready": "false" }, h("span", { class: "badge firing" }, "Not ready"), ` ${failed.length} check(s) failing:`),
        h("ul", { class: "failed-checks" }, failed.map(([check, why]) => h("li", {}, h("strong", {}, check), `: ${why}`))),
      ];
    });
    return true;
  }

  async function loadMetrics() {
    const body = $("metrics-body");
    let samples;
    try {
      samples = api.parseMetrics(await api.request("GET", "metrics", { text: true }));
    } catch (e) {
      return failure("metrics", body, e);
    }
    const now = performance.now();
    const totals = stageTotals(samples);
    const previous = state.previousMetrics;
    state.previousMetrics = { at: now, totals };
    const seconds = previous ? (now - previous.at) / 1000 : 0;
    const rate = (stage, key) => {
      if (!previous || seconds < 0.5) return null;
      const before = (previous.totals.stages[stage] || {})[key] || 0;
      const after = totals.stages[stage][key];
      // A counter that went down was reset by a restart: count from zero.
      return (after >= before ? after - before : after) / seconds;
    };
    const rows = totals.order.map((stage) => ({
      stage,
      received: rate(stage, "received"),
      sent: rate(stage, "sent"),
      lag: totals.stages[stage].lag,
      hasLag: totals.stages[stage].hasLag,
      deadLettered: rate(stage, "deadLettered"),
      errors: rate(stage, "errors"),
      totals: totals.stages[stage],
    }));
    // Rates change every poll: drawn each time, focus kept by replace().
    state.drawn.metrics = null;
    replace(body, renderMetrics(rows, totals.ready, Boolean(previous)));
    return true;
  }

  function stageTotals(samples) {
    const stages = {};
    const ready = {};
    const get = (stage) => (stages[stage] = stages[stage] || { received: 0, sent: 0, deadLettered: 0, errors: 0, lag: 0, hasLag: false });
    for (const { name, labels, value } of samples) {
      if (name === "hark_ready") {
        ready[labels.check || "?"] = value;
        continue;
      }
      if (!labels.stage || !Number.isFinite(value)) continue;
      if (name === "hark_received_total") get(labels.stage).received += value;
      else if (name === "hark_sent_total") get(labels.stage).sent += value;
      else if (name === "hark_dead_lettered_total") get(labels.stage).deadLettered += value;
      else if (name === "hark_errors_total") get(labels.stage).errors += value;
      else if (name === "hark_consumer_lag") {
        get(labels.stage).lag += value;
        get(labels.stage).hasLag = true;
      }
    }
    const order = Object.keys(stages).sort((a, b) => rankStage(a) - rankStage(b) || a.localeCompare(b));
    return { stages, ready, order };
  }

  function rankStage(stage) {
    const i = STAGES.indexOf(stage);
    return i < 0 ? STAGES.length : i;
  }

  function renderMetrics(rows, ready, haveRates) {
    const checks = Object.entries(ready).sort(([a], [b]) => a.localeCompare(b));
    const cell = (rate, total, cls) => h("td", { class: cls || "" }, formatRate(rate), h("div", { class: "muted" }, `total ${compact(total)}`));
    return [
      rows.length
        ? h("table", { class: "data-table stages-table" },
          h("caption", {}, haveRates ? "Per stage, rates since the previous poll" : "Per stage (rates appear at the next poll)"),
          h("thead", {}, h("tr", {}, ["Stage", "Received", "Sent", "Consumer lag", "Dead-lettered", "Errors"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows.map((r) => h("tr", { "data-stage": r.stage },
            h("th", { scope: "row" }, r.stage),
            cell(r.received, r.totals.received),
            cell(r.sent, r.totals.sent),
            h("td", { class: r.lag > 0 ? "warning" : "" }, r.hasLag ? compact(r.lag) : "—"),
            cell(r.deadLettered, r.totals.deadLettered, r.deadLettered > 0 ? "warning" : ""),
            cell(r.errors, r.totals.errors, r.errors > 0 ? "error" : "")))))
        : h("p", { class: "muted" }, "This process reports no stage metrics yet."),
      checks.length
        ? h("div", { class: "ready-checks" }, h("h3", {}, "Readiness checks (hark_ready)"),
          h("ul", { class: "chips" }, checks.map(([check, value]) =>
            h("li", { class: `chip ${value === 1 ? "ok" : "flag"}`, "data-check": check }, `${check}: ${value === 1 ? "ok" : "failing"}`))))
        : null,
    ];
  }

  // ---------------------------------------------------------------------------------------------
  // Polling, token form, wiring

  // A panel's outcome; a bug in one panel must not stop the others from being drawn.
  function settle(promise) {
    return promise.catch((e) => {
      console.error(e);
      return false;
    });
  }

  // A form is being edited: the silence dialog is open, or the token form has focus or text.
  function editing() {
    if ($("silence-dialog").open) return true;
    const auth = $("auth");
    return !auth.hidden && (auth.contains(document.activeElement) || $("auth-token").value !== "");
  }

  async function poll() {
    window.clearTimeout(state.timer);
    state.timer = window.setTimeout(poll, POLL_MS);
    if (editing()) {
      setLive("Paused while you edit a form.", false);
      return;
    }
    if (state.polling) {
      // A change was just made (a silence, a replay): read again once the poll in flight ends.
      state.pollAgain = true;
      return;
    }
    state.polling = true;
    state.pollAgain = false;
    try {
      // The alerts first: the charts pick the brand of the newest firing alert.
      const results = [await settle(loadAlerts())];
      results.push(...await Promise.all([loadCharts(), loadSilences(), loadDeadLetters(), loadOutbox(), loadReadiness(), loadMetrics()].map(settle)));
      const ok = results.every(Boolean);
      setLive(`Updated ${new Date().toLocaleTimeString()}; refreshes every ${POLL_MS / 1000} s.${ok ? "" : " Some panels could not load."}`, !ok);
    } finally {
      state.polling = false;
    }
    if (state.pollAgain) await poll();
  }

  function setLive(text, warn) {
    const el = $("live-status");
    if (el.textContent !== text) el.textContent = text;
    el.classList.toggle("warning", Boolean(warn));
    $("forget-token").hidden = !api.token();
  }

  function showTokenForm(message, hadToken) {
    const auth = $("auth");
    $("auth-reason").textContent = hadToken
      ? `Hark refused the token (${message}). Give another one; it is kept in this tab only.`
      : "This Hark asks for an admin token. It is kept in this tab only (sessionStorage) and sent with every request.";
    if (auth.hidden) {
      auth.hidden = false;
      $("auth-token").focus();
    }
  }

  function init() {
    api.onUnauthorized(showTokenForm);
    $("auth-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("auth-token").value.trim();
      if (!value) return;
      api.setToken(value);
      $("auth-token").value = "";
      $("auth").hidden = true;
      state.drawn = {};
      announce("Token saved for this tab.");
      poll();
    });
    $("forget-token").addEventListener("click", () => {
      api.setToken("");
      state.drawn = {};
      announce("Token forgotten.");
      poll();
    });
    $("refresh-now").addEventListener("click", () => {
      state.drawn = {};
      poll();
    });
    $("brand-select").addEventListener("change", (event) => selectBrand(event.target.value, false));
    // The brand form has no submit button; Enter in it must not reload the page.
    $("brand-form").addEventListener("submit", (event) => event.preventDefault());
    $("silence-form").addEventListener("submit", submitSilence);
    $("silence-cancel").addEventListener("click", () => $("silence-dialog").close("cancelled"));
    $("silence-dialog").addEventListener("close", () => {
      const opener = state.silenceFor && state.silenceFor.opener;
      state.silenceFor = null;
      // The card may have been drawn again meanwhile: return to its button, whichever node it is now.
      const fingerprint = $("silence-dialog").dataset.fingerprint;
      const again = document.querySelector(`[data-key="silence:${CSS.escape(fingerprint || "")}"]`) || opener;
      if (again && document.contains(again)) again.focus();
      poll();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) poll();
    });
    poll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
