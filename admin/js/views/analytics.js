// Analytics: the metrics overview (email, X and ads per day, totals and rates), the email
// campaigns with the most recent engagement, the best time to post per X account, this
// month's X read budget, and a CSV export of every table. Rollups only, never raw events.
import { get, listAll, session, ws } from "../api.js";
import { chart, destroyCharts, palette } from "../charts.js";
import { card, clear, fmtDate, fmtNumber, fmtPct, h, icon, selectDefault, table } from "../dom.js";
import { exportButton, pageHeader, showError } from "../ui.js";

const EXPORTS = [
  ["daily_metrics", "Daily metrics"],
  ["campaigns", "Campaigns"],
  ["posts", "Posts"],
  ["post_metrics", "Post metrics over time"],
  ["post_templates", "Post templates"],
  ["series", "Series"],
  ["x_accounts", "X accounts"],
  ["email_campaigns", "Email campaigns"],
  ["email_campaign_metrics", "Email campaign metrics"],
  ["email_recipients", "Email recipients"],
  ["email_events", "Email events"],
  ["email_templates", "Email templates"],
  ["contacts", "Contacts"],
  ["contact_lists", "Contact lists"],
  ["candidates", "Candidates"],
  ["segments", "Segments"],
  ["job_openings", "Job openings"],
  ["ad_campaigns", "Ad campaigns"],
  ["ad_performance", "Ad performance"],
];

function overviewCard(errorBox) {
  const days = selectDefault(h("select", { class: "form-select form-select-sm w-auto", id: "analytics-days", "aria-label": "Period" }, [7, 30, 90].map((n) => h("option", { value: n }, `last ${n} days`))), 30);
  const emailChart = h("canvas", { id: "analytics-email", role: "img", "aria-label": "Emails sent, opens and clicks per day" });
  const xChart = h("canvas", { id: "analytics-x", role: "img", "aria-label": "X posts, impressions and engagements per day" });
  const totals = h("div", { id: "analytics-totals" });
  const draw = async () => {
    let o;
    try {
      o = await get(ws("/metrics/overview"), { days: days.value });
    } catch (exc) {
      showError(errorBox, exc);
      return;
    }
    const labels = o.days.map((d) => d.date);
    const series = (keys) => keys.map(([key, label, colour]) => ({ label, data: o.days.map((d) => d[key] || 0), borderColor: palette(colour), backgroundColor: palette(colour) }));
    chart(emailChart, { type: "line", data: { labels, datasets: series([["email_sent", "sent", 0], ["email_unique_opens", "unique opens", 1], ["email_unique_clicks", "unique clicks", 3], ["email_unsubscribes", "unsubscribes", 5], ["email_bounces", "bounces", 2]]) }, options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
    chart(xChart, { type: "bar", data: { labels, datasets: series([["x_posts", "posts", 0], ["x_engagements", "engagements", 1]]) }, options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
    const t = o.totals;
    const r = o.rates;
    const row = (label, value) => h("tr", {}, h("th", { scope: "row", class: "fw-normal" }, label), h("td", { class: "text-end" }, value));
    clear(totals).append(
      h(
        "div",
        { class: "row g-3" },
        h("div", { class: "col-md-4" }, h("h3", { class: "h6" }, "Email"), h("table", { class: "table table-sm" }, h("tbody", {}, row("Sent", fmtNumber(t.email_sent)), row("Open rate", fmtPct(r.email_open_rate)), row("Click rate", fmtPct(r.email_click_rate)), row("Unsubscribes", fmtNumber(t.email_unsubscribes)), row("Bounce rate", fmtPct(r.email_bounce_rate))))),
        h("div", { class: "col-md-4" }, h("h3", { class: "h6" }, "X"), h("table", { class: "table table-sm" }, h("tbody", {}, row("Posts", fmtNumber(t.x_posts)), row("Impressions", fmtNumber(t.x_impressions)), row("Engagements", fmtNumber(t.x_engagements)), row("Engagement rate", fmtPct(r.x_engagement_rate))))),
        h("div", { class: "col-md-4" }, h("h3", { class: "h6" }, "Job ads"), h("table", { class: "table table-sm" }, h("tbody", {}, row("Impressions", fmtNumber(t.ads_impressions)), row("Clicks", fmtNumber(t.ads_clicks)), row("CTR", fmtPct(r.ads_ctr)), row("Spend", fmtNumber(t.ads_spend, 2)), row("Cost per click", fmtNumber(r.ads_cpc, 2))))),
      ),
    );
  };
  days.addEventListener("change", draw);
  const body = h("div", {}, h("div", { class: "row g-3" }, h("div", { class: "col-lg-6" }, h("div", { class: "chart-box" }, emailChart)), h("div", { class: "col-lg-6" }, h("div", { class: "chart-box" }, xChart))), h("div", { class: "mt-3" }, totals));
  return [card("Overview", body, h("div", { class: "d-flex gap-2" }, days, exportButton("daily_metrics"))), draw];
}

async function topEmail() {
  const items = await get(ws("/metrics/top-email-campaigns"), { limit: 10 }).catch(() => []);
  const names = new Map((await listAll(ws("/email/campaigns")).catch(() => [])).map((c) => [c.id, c.name]));
  return card(
    "Email campaigns with recent engagement",
    table(
      ["Campaign", "Sent", "Open rate", "Click rate", "Unsubscribes", "Bounces", "Last event"],
      items.map((m) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `#/email/campaign/${encodeURIComponent(m.campaign_id)}` }, names.get(m.campaign_id) || m.campaign_id)),
          h("td", {}, fmtNumber(m.sent)),
          h("td", {}, fmtPct(m.open_rate)),
          h("td", {}, fmtPct(m.click_rate)),
          h("td", {}, fmtNumber(m.unsubscribes)),
          h("td", {}, fmtNumber(m.bounces)),
          h("td", { class: "small" }, fmtDate(m.last_event_at, session.workspace?.timezone)),
        ),
      ),
      "No email engagement yet.",
    ),
    exportButton("email_campaign_metrics"),
  );
}

async function bestTime() {
  const accounts = await listAll(ws("/x/accounts")).catch(() => []);
  const box = h("div", { id: "best-time" });
  if (!accounts.length) return card("Best time to post", h("div", { class: "text-body-secondary" }, "Connect an account (X, Bluesky or Mastodon) first."));
  const sel = h("select", { class: "form-select form-select-sm w-auto", id: "best-time-account", "aria-label": "X account" }, accounts.map((a) => h("option", { value: a.id }, `@${a.handle}`)));
  const draw = async () => {
    const bt = await get(ws(`/x/accounts/${encodeURIComponent(sel.value)}/best-time`)).catch(() => null);
    clear(box);
    if (!bt || !bt.posts) {
      box.append(h("div", { class: "text-body-secondary" }, "Not enough published posts with metrics yet: the hours fill in as Herald reads each post's metrics."));
      return;
    }
    const buckets = bt.buckets || [];
    const max = Math.max(1, ...buckets.map((b) => (b.posts ? b.engagements / b.posts : 0)));
    const grid = h("div", { class: "heat", role: "img", "aria-label": `Mean engagements per post by weekday and hour (${bt.timezone})` }, h("span"), Array.from({ length: 24 }, (_, hr) => h("span", { class: "text-center text-body-secondary" }, hr % 3 ? "" : String(hr))));
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].forEach((day, d) => {
      grid.append(h("span", { class: "text-body-secondary" }, day));
      for (let hr = 0; hr < 24; hr += 1) {
        const b = buckets[d * 24 + hr] || { posts: 0, engagements: 0 };
        const level = b.posts ? Math.min(4, 1 + Math.floor((3.99 * (b.engagements / b.posts)) / max)) : 0;
        grid.append(h("span", { class: `heat-cell${level ? ` heat-${level}` : ""}`, title: `${day} ${hr}:00 · ${b.posts} post(s), ${b.engagements} engagements` }));
      }
    });
    box.append(
      grid,
      h("div", { class: "small text-body-secondary mt-2" }, `${bt.posts} posts of the last 90 days, times in ${bt.timezone}, computed ${fmtDate(bt.computed_at, session.workspace?.timezone)}`),
      bt.best?.length
        ? h("ol", { class: "mt-2 mb-0", id: "best-time-list" }, bt.best.map((b) => h("li", {}, `${b.weekday} ${String(b.hour).padStart(2, "0")}:00 — ${b.mean_engagements} engagements a post (${b.posts} posts)`)))
        : h("div", { class: "small mt-2" }, "No hour has two posts yet: keep posting at different times."),
    );
  };
  sel.addEventListener("change", draw);
  await draw();
  return card("Best time to post", box, sel);
}

async function readBudget() {
  const b = await get(ws("/metrics/read-budget")).catch(() => null);
  if (!b) return card("X read budget", h("div", { class: "text-body-secondary" }, "–"));
  const pct = b.limit ? Math.min(100, Math.round((b.used * 100) / b.limit)) : 100;
  const bar = h("div", { class: `progress-bar${pct >= 90 ? " bg-danger" : ""}` });
  bar.style.width = `${pct}%`; // CSSOM, allowed by the CSP
  return card(
    "X read budget",
    h(
      "div",
      { id: "read-budget" },
      h("div", { class: "fs-4" }, `${fmtNumber(b.used)} of ${fmtNumber(b.limit)}`),
      h("div", { class: "progress my-2", role: "progressbar", "aria-label": "X reads used this month", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 }, bar),
      h("div", { class: "small text-body-secondary" }, `posts read for metrics in ${b.period}; ${fmtNumber(b.remaining)} left.`, b.exhausted_at ? ` Ran out ${fmtDate(b.exhausted_at, session.workspace?.timezone)}: metrics pause until next month.` : ""),
    ),
  );
}

async function generationUsage() {
  const u = await get(ws("/generate/usage")).catch(() => null);
  const row = (label, value) => h("tr", {}, h("th", { scope: "row", class: "fw-normal" }, label), h("td", { class: "text-end" }, fmtNumber(value)));
  return card(
    "Draft generation (Gemini)",
    u ? h("table", { class: "table table-sm mb-0", id: "generation-usage" }, h("tbody", {}, row("Requests", u.requests), row("Prompt tokens", u.prompt_tokens), row("Output tokens", u.output_tokens), row("Total tokens", u.total_tokens))) : h("div", { class: "text-body-secondary" }, "–"),
  );
}

export async function render(root, ctx) {
  const errorBox = h("div");
  ctx.onLeave(() => destroyCharts(root));
  const [overview, draw] = overviewCard(errorBox);
  root.append(pageHeader("Analytics", h("span", { class: "small text-body-secondary" }, "engagement is counted within a minute")), errorBox, overview);
  const [top, best, budget, usage] = await Promise.all([topEmail(), bestTime(), readBudget(), generationUsage()]);
  root.append(
    top,
    h("div", { class: "row g-3" }, h("div", { class: "col-lg-8" }, best), h("div", { class: "col-lg-4" }, budget, usage)),
    card("Export", h("div", { class: "d-flex flex-wrap gap-2", id: "exports" }, EXPORTS.map(([name, label]) => exportButton(name, label))), h("span", { class: "small text-body-secondary" }, icon("shield-check"), " CSV, formula-safe")),
  );
  await draw();
}
