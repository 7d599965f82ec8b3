// Email → a campaign: live progress (every 2 s), delivery status, engagement (opens,
// clicks, unsubscribes, bounces, top links: within a minute of happening), each
// recipient's outcome, a test send, and the actions its state allows.
import { canEdit, del, get, list, post, session } from "../api.js";
import { chart, destroyCharts, palette } from "../charts.js";
import { card, clear, fmtDate, fmtNumber, fmtPct, h, icon, statusBadge, table } from "../dom.js";
import { act, confirmButton, editable, exportButton } from "../ui.js";
import { P, htmlPreview } from "./email.js";

export async function render(root, ctx, id) {
  if (!id) {
    location.hash = "#/email/campaigns";
    return;
  }
  const c = await get(P.campaign(id));
  const errorBox = h("div");
  const title = h("h2", { class: "h4 mb-0 me-auto", id: "email-campaign-name" });
  title.textContent = c.name;
  const statusBox = h("span", { id: "email-status" });
  const bar = h("div", { class: "progress-bar progress-bar-striped w-pct-0", id: "email-progress-bar" });
  const progress = h("div", { class: "progress progress-lg", role: "progressbar", "aria-label": "Sending progress", id: "email-progress" }, bar);
  const pctText = h("div", { class: "fs-4 fw-semibold", id: "email-progress-pct" }, "0 %");
  const countsText = h("div", { class: "small text-body-secondary", id: "email-progress-counts" });
  const doughnut = h("canvas", { id: "email-doughnut", role: "img", "aria-label": "Sent, failed, pending" });
  const bars = h("canvas", { id: "email-status-bars", role: "img", "aria-label": "Delivery status" });
  const rates = h("div", { class: "row text-center g-2", id: "email-rates" });
  const linksBox = h("div", { id: "email-top-links" });
  const actions = h("div", { class: "d-flex gap-2 flex-wrap" });
  ctx.onLeave(() => destroyCharts(root));
  const previewFrame = htmlPreview(c.html || "", "email-campaign-preview");
  root.append(
    h("div", { class: "d-flex align-items-center gap-2 mb-3 flex-wrap" }, h("a", { href: "#/email/campaigns", class: "btn btn-sm btn-outline-secondary" }, icon("arrow-left"), "Campaigns"), title, statusBox, actions),
    errorBox,
    h("div", { class: "row g-3" }, h("div", { class: "col-lg-8" }, card("Progress", h("div", {}, h("div", { class: "d-flex align-items-end gap-3 mb-2" }, pctText, countsText), progress))), h("div", { class: "col-lg-4" }, card("Engagement", rates))),
    h("div", { class: "row g-3" }, h("div", { class: "col-lg-4" }, card("Sent / failed / pending", h("div", { class: "chart-box" }, doughnut))), h("div", { class: "col-lg-8" }, card("Delivery status", h("div", { class: "chart-box" }, bars)))),
    card("Top links", linksBox),
    card("Message", h("div", {}, h("div", { class: "mb-2" }, h("strong", {}, "Subject: "), c.subject || ""), previewFrame)),
  );

  const drawActions = (data) => {
    clear(actions);
    const action = (label, iconName, verb, colour, body) => {
      const b = editable(h("button", { class: `btn btn-sm btn-${colour}`, type: "button", id: `email-${verb}` }, icon(iconName), label));
      b.addEventListener("click", () => act(b, () => post(`${P.campaign(id)}/${verb}`, body), { errorBox, done: `${label}: done` }).then(tick));
      return b;
    };
    const now = () => ({ at: new Date().toISOString(), timezone: session.workspace?.timezone || "UTC" });
    if (["draft", "scheduled"].includes(data.status)) {
      const send = editable(h("button", { class: "btn btn-primary btn-sm", type: "button", id: "email-send-now" }, icon("send"), "Send now"));
      send.addEventListener("click", () => act(send, () => post(`${P.campaign(id)}/schedule`, now()), { errorBox, done: "Sending started" }).then(tick));
      actions.append(send);
    }
    if (data.status === "scheduled") actions.append(action("Back to draft", "arrow-counterclockwise", "unschedule", "outline-secondary"));
    if (data.status === "sending") actions.append(action("Pause", "pause", "pause", "outline-warning"));
    if (data.status === "paused") actions.append(action("Resume", "play", "resume", "outline-success"));
    if (["scheduled", "sending", "paused"].includes(data.status)) actions.append(action("Cancel", "x-circle", "cancel", "outline-danger"));
    if (data.status === "done" && Number(data.failed || 0) > 0) actions.append(action("Resend failed", "arrow-repeat", "resend-failed", "outline-warning"));
    if (data.status === "draft") actions.append(editable(h("a", { class: "btn btn-sm btn-outline-secondary", href: `#/email/campaigns?edit=${encodeURIComponent(id)}`, id: "email-edit" }, icon("pencil"), "Edit")));
    if (["draft", "cancelled", "done"].includes(data.status)) {
      actions.append(
        confirmButton("Delete", "Confirm delete", "danger", (b) =>
          act(b, () => del(P.campaign(id)), { errorBox }).then((ok) => {
            if (ok === null) location.hash = "#/email/campaigns";
          }),
        ),
      );
    }
  };

  // Per-recipient outcomes (SMTP code and text), a page at a time.
  const recipientsBox = h("div", { id: "email-recipients" });
  const recipientFilter = h("select", { class: "form-select form-select-sm w-auto", "aria-label": "Outcome" }, ["", "sent", "failed", "deferred", "suppressed", "pending"].map((x) => h("option", { value: x }, x || "every outcome")));
  const loadRecipients = async () => {
    const page = await list(`${P.campaign(id)}/recipients`, { status: recipientFilter.value, limit: 5 }).catch((exc) => ({ items: [], error: exc }));
    clear(recipientsBox).append(
      table(
        ["Recipient", "Outcome", "SMTP", "When"],
        page.items.slice(0, 100).map((r) => h("tr", {}, h("td", {}, r.email), h("td", {}, statusBadge(r.status)), h("td", { class: `small ${["failed", "deferred", "unconfirmed"].includes(r.status) ? "reason" : "text-body-secondary"}` }, [r.code, r.text || r.reason].filter(Boolean).join(" ")), h("td", { class: "small" }, fmtDate(r.at || r.sent_at, session.workspace?.timezone)))),
        page.error ? page.error.message : "No recipient yet.",
      ),
    );
  };
  recipientFilter.addEventListener("change", loadRecipients);
  const testTo = h("input", { class: "form-control form-control-sm", type: "email", id: "email-test-to", placeholder: "you@example.com", "aria-label": "Address to send the test to" });
  const testBtn = editable(h("button", { class: "btn btn-sm btn-outline-info", type: "button" }, icon("envelope-check"), "Send me a test"));
  testBtn.addEventListener("click", () => act(testBtn, () => post(`${P.campaign(id)}/test`, { to: testTo.value.trim() }), { errorBox, done: "Test message sent ([TEST] in the subject)" }));
  root.append(
    card("Recipients", h("div", {}, h("div", { class: "mb-2" }, recipientFilter), recipientsBox), h("div", { class: "d-flex gap-2" }, h("button", { class: "btn btn-sm btn-outline-secondary", type: "button", onclick: loadRecipients }, icon("arrow-clockwise"), "Refresh"), exportButton("email_recipients", "Export recipients CSV"))),
    canEdit() ? card("Test", h("div", { class: "input-group" }, testTo, testBtn)) : h("span"),
  );
  loadRecipients();

  let lastStatus = null;
  let stats = null;
  let statsAt = 0;
  async function tick() {
    // Progress every 2 s (one aggregation); the engagement rollup (folded at each
    // dispatch tick, so within a minute of an open or click) every 5 s.
    const data = await get(`${P.campaign(id)}/progress`);
    const p = data;
    if (!stats || Date.now() - statsAt > 5_000) {
      stats = await get(P.metrics(id)).catch(() => stats);
      statsAt = Date.now();
    }
    const total = Number(p.total ?? p.recipients ?? 0);
    const sent = Number(p.sent ?? 0);
    const failed = Number(p.failed ?? 0);
    const pending = Number(p.pending ?? Math.max(0, total - sent - failed));
    // Finished = every recipient reached a terminal state (sent, failed, suppressed, …).
    const finished = total - pending - Number(p.deferred || 0);
    const pct = total ? Math.floor((finished * 100) / total) : ["sent", "done", "completed"].includes(data.status) ? 100 : 0;
    bar.style.width = `${pct}%`;
    bar.classList.toggle("progress-bar-animated", pct < 100 && data.status === "sending");
    bar.classList.toggle("bg-success", pct === 100);
    pctText.textContent = `${pct} %`;
    progress.dataset.pct = String(pct);
    progress.setAttribute("aria-valuenow", String(pct));
    countsText.textContent = `${fmtNumber(sent)} sent · ${fmtNumber(failed)} failed · ${fmtNumber(pending)} pending of ${fmtNumber(total)} recipients`;
    if (data.status !== lastStatus) {
      clear(statusBox).append(statusBadge(data.status));
      drawActions(data);
      if (lastStatus !== null) loadRecipients();
      lastStatus = data.status;
    }
    chart(doughnut, {
      type: "doughnut",
      data: { labels: ["sent", "failed", "pending"], datasets: [{ data: [sent, failed, pending], backgroundColor: [palette(1), palette(2), palette(7)] }] },
      options: { plugins: { legend: { position: "bottom" } } },
    });
    const delivery = Object.fromEntries(["sent", "deferred", "failed", "suppressed", "unconfirmed", "cancelled"].map((k) => [k, Number(p[k] || 0)]));
    const labels = Object.keys(delivery);
    chart(bars, {
      type: "bar",
      data: { labels, datasets: [{ label: "messages", data: labels.map((k) => delivery[k]), backgroundColor: labels.map((k, i) => (/fail|bounce|reject|unconfirmed/.test(k) ? palette(2) : k === "sent" ? palette(1) : palette(i + 3))) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    const e = stats || {};
    const cell = (id, label, rate, count, what) => h("div", { class: "col-6" }, h("div", { class: "small text-body-secondary" }, label), h("div", { class: "fs-3", id }, fmtPct(rate || 0)), h("div", { class: "small", id: `${id}-count` }, `${fmtNumber(count || 0)} ${what}`));
    clear(rates).append(
      cell("open-rate", "Open rate", e.open_rate, e.unique_opens, "opened"),
      cell("click-rate", "Click rate", e.click_rate, e.unique_clicks, "clicked"),
      cell("unsubscribe-rate", "Unsubscribed", e.unsubscribe_rate, e.unsubscribes, "unsubscribed"),
      cell("bounce-rate", "Bounced", e.bounce_rate, e.bounces, "hard bounces"),
      h("div", { class: "col-12 small text-body-secondary mt-2", id: "machine-engagement" }, `Rates are of the messages sent. Opens are approximate: many mail apps block or pre-load images. Not counted above: ${fmtNumber(e.machine_opens ?? 0)} opens and ${fmtNumber(e.machine_clicks ?? 0)} clicks by machines (Apple Mail Privacy Protection, link scanners).`, e.updated_at ? ` Updated ${fmtDate(e.updated_at, session.workspace?.timezone)}.` : ""),
    );
    clear(linksBox).append(table(["Link", "Clicks"], (e.top_links || []).map((l) => h("tr", {}, h("td", { class: "wrap small" }, l.url), h("td", { class: "text-end" }, fmtNumber(l.clicks)))), "No clicks yet."));
  }
  await ctx.every(tick, 2000);
}
