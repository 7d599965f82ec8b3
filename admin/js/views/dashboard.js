// Dashboard: what Herald is doing now, today's numbers, the last 7 days, top campaigns.
import { get, session, ws } from "../api.js";
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
      { class: "row g-3" },
      h("div", { class: "col-lg-8" }, h("div", { class: "card h-100" }, h("div", { class: "card-header fw-semibold" }, "Last 7 days"), h("div", { class: "card-body" }, h("div", { class: "chart-box" }, timeline)))),
      h("div", { class: "col-lg-4" }, h("div", { class: "card h-100" }, h("div", { class: "card-header fw-semibold" }, "Top campaigns"), h("div", { class: "card-body" }, top))),
    ),
  );
  ctx.onLeave(() => destroyCharts(root));

  await ctx.every(async () => {
    let d;
    try {
      d = await get(ws("/dashboard"));
    } catch (exc) {
      showError(errors, exc);
      return;
    }
    clear(errors);
    const today = d.today || {};
    const activity = d.activity || d.now || {};
    root.querySelector("#stat-queue").textContent = fmtNumber(today.queued ?? today.queue ?? 0);
    root.querySelector("#stat-sent").textContent = fmtNumber(today.sent ?? 0);
    root.querySelector("#stat-failed").textContent = fmtNumber(today.failed ?? 0);
    root.querySelector("#stat-active").textContent = fmtNumber(Number(activity.sending || 0) + Number(activity.posting || 0));
    setActivity(activity);
    const days = d.timeline || d.days || [];
    const series = d.timeline_series || ["posts", "emails", "failed"];
    chart(timeline, {
      type: "bar",
      data: {
        labels: days.map((x) => x.date || x.day),
        datasets: series.map((key, i) => ({ label: key, data: days.map((x) => x[key] || 0), backgroundColor: palette(key === "failed" ? 2 : i) })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });
    const rows = (d.top_campaigns || []).map((c) =>
      h("tr", {}, h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(c.id)}` }, c.name || c.id)), h("td", { class: "text-end" }, fmtNumber(c.sent ?? c.count ?? c.total ?? 0))),
    );
    clear(top).append(table(["Campaign", "Sent"], rows, "No activity yet."));
    const stamp = root.querySelector("#dash-updated");
    stamp.textContent = `updated ${new Date().toLocaleTimeString(undefined, { timeZone: session.workspace?.timezone || undefined })}`;
  }, 5000);
}
