// Dashboard: what Herald is doing now, today's numbers (engagement within a minute: the
// rollups fold each open, click, unsubscribe and bounce at the next dispatch tick), the
// last 7 days, top campaigns.
import { get, list, listAll, session, ws } from "../api.js";
import { dayKey } from "../time.js";
import { chart, destroyCharts, palette } from "../charts.js";
import { clear, fmtNumber, h, icon, table } from "../dom.js";
import { pageHeader, showError } from "../ui.js";

function stat(id, label, iconName, colour) {
  return h(
    "div",
    { class: "col-6 col-lg-3" },
    h("div", { class: "card stat-card h-100" }, h("div", { class: "card-body" }, h("div", { class: `text-${colour} small text-uppercase` }, icon(iconName), " ", label), h("div", { class: "display-6", id }, "–"))),
  );
}

export function setActivity(activity) {
  const badge = document.getElementById("activity");
  if (!badge) return;
  const sending = Number(activity?.sending || activity?.emails_sending || 0);
  const posting = Number(activity?.posting || activity?.posts_posting || 0);
  const parts = [];
  if (posting) parts.push(`posting ${posting}`);
  if (sending) parts.push(`sending ${sending}`);
  const busy = parts.length > 0;
  badge.className = `badge rounded-pill ms-2 ${busy ? "text-bg-success pulse" : "text-bg-secondary"}`;
  badge.replaceChildren(icon(busy ? "broadcast" : "pause-circle"), " ", busy ? parts.join(" · ") : "idle");
  badge.dataset.busy = busy ? "1" : "0";
}

export async function render(root, ctx) {
  const timeline = h("canvas", { id: "timeline-chart", "aria-label": "Posts and emails over the last 7 days", role: "img" });
  const engagement = h("canvas", { id: "engagement-chart", "aria-label": "Email opens, clicks, unsubscribes and bounces over the last 7 days", role: "img" });
  const top = h("div", { id: "top-campaigns" });
  const errors = h("div");
  root.append(
    pageHeader("Dashboard", h("span", { class: "small text-body-secondary", id: "dash-updated" })),
    errors,
    h(
      "div",
      { class: "row g-3 mb-4" },
      stat("stat-queue", "Today's queue", "hourglass-split", "info"),
      stat("stat-sent", "Sent today", "check2-circle", "success"),
      stat("stat-failed", "Failed today", "x-octagon", "danger"),
      stat("stat-active", "Sending / posting now", "broadcast", "warning"),
    ),
    h(
      "div",
      { class: "row g-3 mb-4" },
      stat("stat-opens", "Opens today", "envelope-open", "info"),
      stat("stat-clicks", "Clicks today", "cursor", "success"),
      stat("stat-unsubscribes", "Unsubscribes today", "person-dash", "warning"),
      stat("stat-bounces", "Bounces today", "envelope-x", "danger"),
    ),
    h(
      "div",
      { class: "row g-3" },
      h("div", { class: "col-lg-8" }, h("div", { class: "card h-100" }, h("div", { class: "card-header fw-semibold" }, "Last 7 days"), h("div", { class: "card-body" }, h("div", { class: "chart-box" }, timeline)))),
      h("div", { class: "col-lg-4" }, h("div", { class: "card h-100" }, h("div", { class: "card-header fw-semibold" }, "Top campaigns"), h("div", { class: "card-body" }, top))),
    ),
    h("div", { class: "card mt-3" }, h("div", { class: "card-header fw-semibold" }, "Email engagement, last 7 days"), h("div", { class: "card-body" }, h("div", { class: "chart-box" }, engagement))),
  );
  ctx.onLeave(() => destroyCharts(root));

  const tz = session.workspace?.timezone || "UTC";
  const names = new Map();
  await ctx.every(async () => {
    let d;
    try {
      d = await load(tz, names);
    } catch (exc) {
      showError(errors, exc);
      return;
    }
    clear(errors);
    root.querySelector("#stat-queue").textContent = fmtNumber(d.today.queued);
    root.querySelector("#stat-sent").textContent = fmtNumber(d.today.sent);
    root.querySelector("#stat-failed").textContent = fmtNumber(d.today.failed);
    root.querySelector("#stat-active").textContent = fmtNumber(d.activity.sending + d.activity.posting);
    for (const key of ["opens", "clicks", "unsubscribes", "bounces"]) root.querySelector(`#stat-${key}`).textContent = fmtNumber(d.engaged.at(-1)?.[key] ?? 0);
    chart(engagement, {
      type: "line",
      data: {
        labels: d.engaged.map((x) => x.date),
        datasets: [
          ["opens", "opens", 0],
          ["clicks", "clicks", 1],
          ["unsubscribes", "unsubscribes", 3],
          ["bounces", "bounces", 2],
        ].map(([key, label, colour]) => ({ label, data: d.engaged.map((x) => x[key]), borderColor: palette(colour), backgroundColor: palette(colour) })),
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    setActivity(d.activity);
    const series = [
      ["x_posts", "X posts", 0],
      ["email_sent", "emails sent", 1],
      ["failed", "failed", 2],
    ];
    chart(timeline, {
      type: "bar",
      data: {
        labels: d.days.map((x) => x.date),
        datasets: series.map(([key, label, colour]) => ({ label, data: d.days.map((x) => x[key] || 0), backgroundColor: palette(colour) })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });
    const rows = d.top.map((c) => h("tr", {}, h("td", {}, c.href ? h("a", { href: c.href }, c.name) : c.name), h("td", { class: "small text-body-secondary" }, c.kind), h("td", { class: "text-end" }, fmtNumber(c.count)), h("td", { class: "text-end small" }, c.clicks === undefined ? "–" : `${fmtNumber(c.clicks)} / ${fmtNumber(c.unsubscribes)}`)));
    clear(top).append(table(["Campaign", "Kind", "Sent", "Clicks / unsub."], rows, "No activity yet."));
    const tick = d.scheduler?.last_tick_at ? new Date(d.scheduler.last_tick_at) : null;
    const alive = tick && Date.now() - tick.getTime() < 3 * 60_000;
    root.querySelector("#dash-updated").replaceChildren(
      h("span", { class: `badge me-2 ${alive ? "text-bg-success" : "text-bg-danger"}`, id: "scheduler-state", title: tick ? `last tick ${tick.toLocaleString()}` : "no tick yet" }, icon(alive ? "heart-pulse" : "exclamation-triangle"), alive ? " scheduler running" : " scheduler not ticking"),
      `updated ${new Date().toLocaleTimeString(undefined, { timeZone: tz })} · ${tz}`,
    );
  }, 5000);
}

const POST_STATES = ["scheduled", "queued", "publishing", "published", "failed"];

/** Everything the dashboard shows, from the posts and email campaigns routes. */
async function load(tz, names) {
  const today = dayKey(new Date(), tz);
  const week = Array.from({ length: 7 }, (_, i) => dayKey(new Date(Date.now() - (6 - i) * 86_400_000), tz));
  const [posts, emails, campaigns, dash] = await Promise.all([
    Promise.all(POST_STATES.map((status) => list(ws("/posts"), { status, limit: 200 }).then((r) => r.items))).then((x) => x.flat()),
    listAll(ws("/email/campaigns"), {}, 200).catch(() => []),
    names.size ? Promise.resolve(null) : listAll(ws("/campaigns")).catch(() => []),
    get(ws("/dashboard"), { days: 7 }).catch(() => null), // metrics rollups (may lag a little)
  ]);
  if (campaigns) campaigns.forEach((c) => names.set(c.id, c.name));
  const day = (when) => (when ? dayKey(when, tz) : null);
  const out = {
    today: { queued: 0, sent: 0, failed: 0 },
    activity: { posting: 0, sending: 0 },
    days: week.map((date) => ({ date, x_posts: 0, email_sent: 0, failed: 0 })),
    top: [],
    engaged: [],
  };
  const byDay = new Map(out.days.map((x) => [x.date, x]));
  const perCampaign = new Map();
  for (const p of posts) {
    if (["queued", "publishing"].includes(p.status)) out.activity.posting += 1;
    if (["scheduled", "queued", "publishing"].includes(p.status) && day(p.due_at) === today) out.today.queued += 1;
    if (p.status === "published") {
      const k = day(p.published_at);
      if (k === today) out.today.sent += 1;
      if (byDay.has(k)) byDay.get(k).x_posts += 1;
      if (p.campaign_id) perCampaign.set(p.campaign_id, (perCampaign.get(p.campaign_id) || 0) + 1);
    }
    if (p.status === "failed") {
      const k = day(p.updated_at || p.last_error?.at || p.due_at);
      if (k === today) out.today.failed += 1;
      if (byDay.has(k)) byDay.get(k).failed += 1;
    }
  }
  for (const c of emails) {
    const pr = c.progress || {};
    if (c.status === "sending") {
      out.activity.sending += 1;
      out.today.queued += Number(pr.pending || 0);
    }
    const k = day(c.finished_at || c.updated_at || c.due_at);
    if (k === today) {
      out.today.sent += Number(pr.sent || 0);
      out.today.failed += Number(pr.failed || 0);
    }
    if (byDay.has(k)) {
      byDay.get(k).email_sent += Number(pr.sent || 0);
      byDay.get(k).failed += Number(pr.failed || 0);
    }
  }
  // The metrics rollups, where they know more (e.g. emails sent by campaigns since
  // finished, older days), win; the live counts above cover what they have not folded yet.
  if (dash) {
    out.activity.posting = Math.max(out.activity.posting, Number(dash.activity?.posting || 0));
    out.activity.sending = Math.max(out.activity.sending, Number(dash.activity?.sending || 0));
    out.scheduler = dash.scheduler || null;
    for (const row of dash.overview?.days || []) {
      const mine = byDay.get(row.date);
      if (!mine) continue;
      mine.x_posts = Math.max(mine.x_posts, Number(row.x_posts || 0));
      mine.email_sent = Math.max(mine.email_sent, Number(row.email_sent || 0));
      mine.failed = Math.max(mine.failed, Number(row.email_failed || 0) + Number(row.email_bounces || 0));
    }
  }
  out.engaged = week.map((date) => {
    const row = (dash?.overview?.days || []).find((x) => x.date === date) || {};
    return { date, opens: Number(row.email_opens || 0), clicks: Number(row.email_clicks || 0), unsubscribes: Number(row.email_unsubscribes || 0), bounces: Number(row.email_bounces || 0) };
  });
  const engagement = new Map((dash?.top_email_campaigns || []).map((m) => [m.campaign_id, m]));
  out.top = [
    ...[...perCampaign].map(([id, count]) => ({ name: names.get(id) || id, href: `#/campaigns/${encodeURIComponent(id)}`, kind: "X", count })),
    ...emails.filter((c) => Number(c.progress?.sent || 0) > 0).map((c) => ({ name: c.name, href: `#/email/campaign/${encodeURIComponent(c.id)}`, kind: "email", count: Number(c.progress.sent), clicks: Number(engagement.get(c.id)?.clicks || 0), unsubscribes: Number(engagement.get(c.id)?.unsubscribes || 0) })),
  ]
    .sort((a, b) => b.count - a.count)
    .slice(0, 5);
  return out;
}
