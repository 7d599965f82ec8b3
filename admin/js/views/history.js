// Post history: every post with its text and images, its status, the reason of a
// failure, the link to the published post and its metrics; a held thread (X refused a
// reply part) can go on as separate posts, or stop. Each row is one network's post: a
// post written for several channels shows one row per network, each with its own
// result, and opens the group: every network's result, cancel on all at once
// (./history_groups.js). Refreshes every 5 s while shown.
import { del, get, list, listAll, post, session, ws } from "../api.js";
import { chart, destroyCharts, palette } from "../charts.js";
import { mediaBlobUrl } from "../blobs.js";
import { clear, fmtDate, fmtNumber, h, icon, statusBadge, table } from "../dom.js";
import { act, confirmButton, editable, exportButton, pageHeader } from "../ui.js";
import { LABELS, networkUrl } from "./channels.js";
import { networkOf } from "./networks.js";
import { groupPanel } from "./history_groups.js";

/** The post's images as small thumbnails (fetched once per page load). */
function thumbs(p) {
  const ids = p.media || [];
  if (!ids.length) return null;
  return h(
    "div",
    { class: "d-flex gap-1 mt-1 post-images" },
    ids.map((id, i) => {
      const img = h("img", { class: "thumb-sm", alt: `Image ${i + 1} of the post` });
      mediaBlobUrl(id).then((url) => (img.src = url)).catch(() => img.replaceWith(h("span", { class: "small text-danger" }, "image unavailable")));
      return img;
    }),
  );
}

const STATUSES = ["", "draft", "approved", "scheduled", "queued", "publishing", "published", "failed", "unconfirmed", "held", "cancelled"];

export function postUrl(p, accounts) {
  return p.url || networkUrl(p, accounts.get(p.account_id));
}

function metricsCell(p) {
  // The metrics pipeline keeps the latest counters on the post as metrics_<name>.
  const m = p.metrics || Object.fromEntries(Object.entries(p).filter(([k]) => k.startsWith("metrics_")).map(([k, v]) => [k.slice(8), v]));
  const keys = [
    ["impressions", "eye"],
    ["likes", "heart"],
    ["reposts", "repeat"],
    ["replies", "chat"],
  ];
  const present = keys.filter(([k]) => m[k] !== undefined && m[k] !== null);
  if (!present.length) return h("span", { class: "text-body-secondary small", title: m.error ? String(m.error) : "" }, p.status === "published" ? (m.status ? String(m.status) : "not collected yet") : "–");
  return h("span", { class: "small text-nowrap" }, present.map(([k, i]) => h("span", { class: "me-2", title: k }, icon(i), " ", fmtNumber(m[k]))));
}

export async function render(root, ctx) {
  const campaigns = await listAll(ws("/campaigns")).catch(() => []);
  const accounts = new Map((await listAll(ws("/x/accounts")).catch(() => [])).map((a) => [a.id, a]));
  const names = new Map(campaigns.map((c) => [c.id, c.name]));
  const campaignSel = h("select", { class: "form-select form-select-sm w-auto", id: "history-campaign", "aria-label": "Campaign" }, h("option", { value: "" }, "All campaigns"), campaigns.map((c) => h("option", { value: c.id }, c.name)));
  campaignSel.value = ctx.params.get("campaign") || "";
  const statusSel = h("select", { class: "form-select form-select-sm w-auto", id: "history-status", "aria-label": "Status" }, STATUSES.map((s) => h("option", { value: s }, s ? s : "Any status")));
  const box = h("div", { id: "history-table" });
  const more = h("button", { class: "btn btn-sm btn-outline-secondary d-none", type: "button" }, "Load more");
  let cursor = null;
  let rows = [];
  // One post's readings over time (GET /posts/{id}/metrics), below the table: the
  // table refreshes every 5 s, this stays until another post is chosen.
  const growthCanvas = h("canvas", { id: "post-growth-chart", role: "img", "aria-label": "The post's metrics over time" });
  const growthTitle = h("div", { class: "small mb-2", id: "post-growth-title" });
  const growthCard = h("div", { class: "card mt-3 d-none", id: "post-growth" }, h("div", { class: "card-header fw-semibold" }, "Metrics over time"), h("div", { class: "card-body" }, growthTitle, h("div", { class: "chart-box" }, growthCanvas)));
  ctx.onLeave(() => destroyCharts(growthCard));
  async function showGrowth(p, text) {
    const m = await get(ws(`/posts/${encodeURIComponent(p.id)}/metrics`)).catch(() => null);
    growthCard.classList.remove("d-none");
    growthTitle.textContent = `${text.slice(0, 120)} · ${m?.snapshots?.length || 0} reading(s)${m?.next_metrics_at ? `, next ${fmtDate(m.next_metrics_at, session.workspace?.timezone)}` : ""}`;
    const points = m?.snapshots || [];
    chart(growthCanvas, {
      type: "line",
      data: {
        labels: points.map((x) => fmtDate(x.at, session.workspace?.timezone)),
        datasets: [["impressions", 0], ["engagements", 1], ["likes", 3], ["reposts", 5]].map(([key, colour]) => ({ label: key, data: points.map((x) => x[key] || 0), borderColor: palette(colour), backgroundColor: palette(colour) })),
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
    growthCard.scrollIntoView({ block: "nearest" });
  }

  const group = groupPanel(session.workspace?.timezone, () => refresh());
  const rowOf = (p) => {
    const url = postUrl(p, accounts);
    const reason = p.last_error?.reason || p.last_error?.message || p.status_reason || "";
    const retry = p.status === "failed" ? editable(h("button", { class: "btn btn-sm btn-outline-warning", type: "button", title: "Back to draft to edit and schedule again" }, icon("arrow-counterclockwise"), "Edit")) : null;
    retry?.addEventListener("click", () => (location.hash = `#/compose?post=${encodeURIComponent(p.id)}`));
    const cancel = ["scheduled", "approved", "draft"].includes(p.status) ? editable(h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("x-circle"), "Cancel")) : null;
    cancel?.addEventListener("click", () => act(cancel, () => post(ws(`/posts/${encodeURIComponent(p.id)}/cancel`), {}), { done: "Post cancelled" }).then(refresh));
    // Held: X refused a reply part (its reply restriction); the rest waits for a person.
    const held = p.status === "held";
    const separate = held ? editable(h("button", { class: "btn btn-sm btn-outline-primary post-rest", type: "button", title: "Post the parts X refused as replies as separate posts" }, icon("signpost-split"), "Post the rest as separate posts")) : null;
    separate?.addEventListener("click", () => act(separate, () => post(ws(`/posts/${encodeURIComponent(p.id)}/post-rest-separately`), {}), { done: "The rest goes out as separate posts" }).then(refresh));
    const drop = held ? editable(h("button", { class: "btn btn-sm btn-outline-danger drop-rest", type: "button" }, icon("x-octagon"), "Drop the rest")) : null;
    drop?.addEventListener("click", () => act(drop, () => post(ws(`/posts/${encodeURIComponent(p.id)}/drop-rest`), {}), { done: "The rest of the thread is dropped" }).then(refresh));
    const heldNote = held ? h("div", { class: "small text-warning held-note" }, `${(p.x_ids || []).length} of its parts are on X; X refused the next as a reply. Post the rest as separate posts, or drop it.`) : null;
    const text = (p.parts && p.parts.length ? p.parts : [p.text || ""]).join("\n—\n");
    // A post that never went out can be deleted (asks twice).
    const remove = ["draft", "cancelled", "failed"].includes(p.status) ? confirmButton("Delete", "Confirm delete", "danger", (b) => act(b, () => del(ws(`/posts/${encodeURIComponent(p.id)}`)), { done: "Post deleted" }).then(refresh)) : null;
    const growth = p.status === "published" ? h("button", { class: "btn btn-sm btn-outline-info", type: "button", "aria-label": "Metrics over time", title: "Metrics over time" }, icon("graph-up")) : null;
    growth?.addEventListener("click", () => showGrowth(p, text));
    const together = p.group_id ? h("button", { class: "btn btn-sm btn-outline-secondary text-nowrap group-open", type: "button", dataset: { group: p.group_id }, title: "Every network of this post: results, cancel on all" }, icon("collection"), "All networks") : null;
    together?.addEventListener("click", () => group.show(p.group_id));
    return h(
      "tr",
      { dataset: { id: p.id, status: p.status } },
      h("td", { class: "small text-nowrap" }, fmtDate(p.published_at || p.due_at || p.created_at, p.timezone)),
      h("td", { class: "wrap small post-text" }, text, thumbs(p)),
      h("td", { class: "small" }, names.get(p.campaign_id) || ""),
      h(
        "td",
        {},
        h("span", { class: "badge text-bg-light border me-1 network-badge", dataset: { network: networkOf(p) }, title: p.group_id ? "posted with the same post on other channels" : "" }, LABELS[networkOf(p)] || p.network, p.group_id ? h("span", { class: "ms-1 group-mark" }, icon("collection"), h("span", { class: "visually-hidden" }, " (one of a post to several channels)")) : null),
        statusBadge(p.status),
        p.sandbox ? h("span", { class: "badge text-bg-warning ms-1" }, "sandbox") : null,
      ),
      h("td", { class: "reason small" }, reason, heldNote),
      h("td", { class: "small" }, url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "post-link" }, icon("box-arrow-up-right"), " view") : (p.x_ids || []).length ? h("span", { class: "text-body-secondary post-id", title: "sandbox: recorded, not on X" }, `#${p.x_ids[0]}`) : ""),
      h("td", {}, metricsCell(p), growth),
      h("td", { class: "text-end" }, h("div", { class: "d-flex gap-1 justify-content-end flex-wrap" }, together, retry, cancel, separate, drop, remove)),
    );
  };

  async function refresh() {
    const page = await list(ws("/posts"), { campaign_id: campaignSel.value, status: statusSel.value, limit: 50 });
    rows = page.items;
    cursor = page.next_cursor;
    draw();
  }
  function draw() {
    clear(box).append(table(["When", "Text", "Campaign", "Status", "Reason", "Link", "Metrics", ""], rows.map(rowOf), "No posts match."));
    more.classList.toggle("d-none", !cursor);
  }
  more.addEventListener("click", async () => {
    const page = await list(ws("/posts"), { campaign_id: campaignSel.value, status: statusSel.value, limit: 50, cursor });
    rows.push(...page.items);
    cursor = page.next_cursor;
    draw();
  });
  campaignSel.addEventListener("change", refresh);
  statusSel.addEventListener("change", refresh);
  root.append(
    pageHeader("Post history", h("div", { class: "d-flex gap-2 flex-wrap page-actions" }, campaignSel, statusSel, exportButton("posts"), exportButton("post_metrics", "Export metrics CSV"))),
    h("div", { class: "card" }, h("div", { class: "card-body" }, box, more)),
    group.panel,
    growthCard,
  );
  await ctx.every(async () => {
    if (box.querySelector("[data-armed]")) return; // a delete waits for its confirmation
    if (!cursor || rows.length <= 50) await refresh();
  }, 5000);
}
