// Generated drafts: ask the generator for drafts of a campaign (for its account and the
// channels chosen: by default the campaign's own), edit, approve or reject them. A draft
// written for several networks (a post group) is one row with each network's name, its
// counter on the strictest network's rule; a channel's own variant text is a row of its
// own. The list refreshes every 5 s without ever touching a draft being edited: rows are
// kept by their posts, and a row whose text differs from what the server last sent (or
// that has the focus) stays exactly as the person left it.
import { canEdit, list, listAll, patch, post, session, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, statusBadge, table } from "../dom.js";
import { act, editable, lockForViewer, pageHeader, showError, viewerNotice } from "../ui.js";
import { LABELS, channelName, channelPicker } from "./channels.js";
import { byNetwork, counterText, networkOf, strictestCount } from "./networks.js";

const firstText = (p) => (p.parts?.length ? p.parts[0] : p.text || "");
const rowKey = (p) => (p.group_id ? `${p.group_id}|${firstText(p)}` : p.id);
const versionOf = (posts) => `${posts.map((x) => `${x.id}:${x.updated_at}`).join(",")}|${firstText(posts[0])}`;

/** Rows of the drafts list: the draft posts of one group with the same text share one. */
function rowsOf(items) {
  const rows = new Map();
  for (const p of items) {
    const key = rowKey(p);
    if (!rows.has(key)) rows.set(key, []);
    rows.get(key).push(p);
  }
  return rows;
}

function draftRow(posts, accounts, names, errorBox, refresh) {
  const [p] = posts;
  const original = firstText(p);
  const key = rowKey(p);
  const mine = posts.map((x) => accounts.get(x.account_id) || { id: x.account_id, network: x.network, handle: x.account_id });
  const ta = h("textarea", { class: "form-control form-control-sm", rows: 3, "aria-label": `Text of the draft for ${names.get(p.campaign_id) || "no campaign"}`, value: original });
  const counter = h("span", { class: "counter small" });
  const upd = () => {
    const c = strictestCount(mine, ta.value);
    const which = mine.length > 1 ? ` (${LABELS[c.network]}, the strictest)` : "";
    counter.textContent = `${counterText(c)}${which}${ta.value !== original ? " · edited" : ""}`;
    counter.classList.toggle("over", !c.valid);
    counter.dataset.network = c.network;
  };
  ta.addEventListener("input", upd);
  upd();
  ta.readOnly = !canEdit();
  const each = (fn) => Promise.all(posts.map((x) => fn(`/posts/${encodeURIComponent(x.id)}`, x)));
  const approve = editable(h("button", { class: "btn btn-sm btn-success", type: "button" }, icon("check2"), "Approve"));
  approve.addEventListener("click", () =>
    act(approve, async () => {
      if (ta.value !== original) await each((path, x) => patch(ws(path), { parts: [ta.value, ...(x.parts || []).slice(1)] }));
      return each((path) => post(ws(`${path}/approve`), {}));
    }, { errorBox, done: posts.length > 1 ? `Draft approved for ${posts.length} networks` : "Draft approved" }).then((ok) => ok && refresh(key)),
  );
  const reject = editable(h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("x-lg"), "Reject"));
  reject.addEventListener("click", () => act(reject, () => each((path) => post(ws(`${path}/cancel`), {})), { errorBox, done: "Draft rejected" }).then((ok) => ok && refresh(key)));
  const edit = h("a", { class: "btn btn-sm btn-outline-secondary", href: `#/compose?post=${encodeURIComponent(p.id)}` }, icon("pencil"), "Open");
  const thread = (p.parts?.length ? p.parts : [p.text || ""]).join("\n—\n");
  const networks = h("div", { class: "d-flex flex-wrap gap-1 mt-1 draft-networks" }, [...mine].sort(byNetwork).map((a) => h("span", { class: "badge text-bg-light border text-wrap", title: channelName(a), dataset: { network: networkOf(a) } }, `${LABELS[networkOf(a)]} @${a.handle}`)));
  const tr = h(
    "tr",
    { dataset: { id: p.id, group: p.group_id || "" } },
    h("td", { class: "small" }, names.get(p.campaign_id) || "", h("div", {}, statusBadge(p.source === "generated" ? "generated" : p.status)), networks),
    h("td", { class: "w-50" }, p.parts?.length > 1 ? h("div", { class: "small text-body-secondary" }, `thread of ${p.parts.length}`) : null, ta, counter, p.parts?.length > 1 ? h("div", { class: "small wrap text-body-secondary" }, thread) : null),
    h("td", { class: "small" }, fmtDate(p.created_at, session.workspace?.timezone)),
    h("td", { class: "text-nowrap" }, h("div", { class: "d-flex gap-1" }, approve, reject, edit)),
  );
  return { tr, ta, original, version: versionOf(posts), busy: () => document.activeElement === ta || ta.value !== original };
}

export async function render(root, ctx) {
  const [campaigns, accountList] = await Promise.all([listAll(ws("/campaigns")).catch(() => []), listAll(ws("/x/accounts")).catch(() => [])]);
  const names = new Map(campaigns.map((c) => [c.id, c.name]));
  const accounts = new Map(accountList.map((a) => [a.id, a]));
  const errorBox = h("div");
  const campaignSel = h("select", { class: "form-select", id: "drafts-campaign" }, campaigns.map((c) => h("option", { value: c.id }, c.name)));
  if (ctx.params.get("campaign")) campaignSel.value = ctx.params.get("campaign");
  const count = h("input", { class: "form-control", type: "number", min: 1, max: 20, value: 5, id: "drafts-count" });
  const generate = editable(h("button", { class: "btn btn-primary", type: "button", id: "drafts-generate" }, icon("stars"), "Generate drafts"));
  const accountHint = h("div", { id: "drafts-account-hint" });
  const current = () => campaigns.find((x) => x.id === campaignSel.value);
  const channels = channelPicker(accountList, () => current()?.account_id || "", { id: "drafts-channels" });
  const syncHint = () => {
    const c = current();
    clear(accountHint);
    generate.disabled = !c || !c.account_id || !canEdit();
    // The campaign's channels that can post; one that cannot is left out (and said why).
    channels.reset((c?.channels || []).filter((id) => accounts.get(id)?.status === "active"));
    if (c && !c.account_id) {
      accountHint.append(h("div", { class: "alert alert-warning py-2" }, icon("signpost-split"), " This campaign has no account yet: drafts are written for one. ", h("a", { class: "alert-link", href: `#/campaigns/${encodeURIComponent(c.id)}` }, "Choose its account")));
    }
  };
  campaignSel.addEventListener("change", syncHint);
  syncHint();
  const box = h("div", { id: "drafts-list" });
  const resultBox = h("div", { id: "drafts-result" });
  const rows = new Map(); // row key (post id, or group and text) -> row
  let tbody = null;

  async function refresh(gone) {
    if (gone) rows.delete(gone);
    const page = await list(ws("/posts"), { status: "draft", limit: 100 });
    const fresh = rowsOf(page.items);
    for (const [key, posts] of fresh) {
      const row = rows.get(key);
      if (row && (row.busy() || row.version === versionOf(posts))) continue; // never over an edit
      rows.set(key, draftRow(posts, accounts, names, errorBox, refresh));
    }
    for (const [key, row] of rows) if (!fresh.has(key) && !row.busy()) rows.delete(key);
    const wanted = [...fresh.keys()].filter((key) => rows.has(key)).map((key) => rows.get(key).tr);
    for (const [key, row] of rows) if (!fresh.has(key)) wanted.push(row.tr); // edited, gone on the server
    if (!tbody || !rows.size) {
      clear(box).append(table(["Campaign", "Draft", "Created", ""], wanted, "No drafts waiting."));
      tbody = rows.size ? box.querySelector("tbody") : null;
      return;
    }
    const shown = Array.from(tbody.children);
    if (shown.length === wanted.length && shown.every((tr, i) => tr === wanted[i])) return;
    const focused = document.activeElement;
    const [start, end] = focused?.tagName === "TEXTAREA" ? [focused.selectionStart, focused.selectionEnd] : [0, 0];
    tbody.replaceChildren(...wanted);
    if (focused && focused !== document.activeElement && tbody.contains(focused)) {
      focused.focus();
      focused.setSelectionRange?.(start, end);
    }
  }

  generate.addEventListener("click", async () => {
    if (!campaignSel.value) return showError(errorBox, new Error("Create a campaign first: drafts are written from its brief."));
    const body = { count: Number(count.value), channels: channels.selected() };
    const r = await act(generate, () => post(ws(`/campaigns/${encodeURIComponent(campaignSel.value)}/generate`), body), { errorBox });
    if (r) {
      const skipped = r.skipped_channels || [];
      clear(resultBox).append(
        h("div", { class: `alert ${r.error ? "alert-warning" : "alert-success"} py-2` },
          `${(r.drafts || []).length} draft(s) written by the ${r.generator} generator`,
          body.channels.length ? ` for ${body.channels.length + 1} channels` : "",
          r.generator === "offline" ? h("span", { class: "badge text-bg-warning ms-2" }, "offline: templates, no AI") : null,
          (r.rejected || []).length ? `; ${r.rejected.length} rejected (too long or too similar to earlier posts)` : "",
          skipped.length ? h("div", { class: "small" }, `Left out: ${skipped.map((s) => s.reason).join("; ")}`) : null,
          r.error ? h("div", { class: "small" }, typeof r.error === "string" ? r.error : r.error.message || JSON.stringify(r.error)) : null),
      );
      await refresh();
    }
  });
  root.append(
    pageHeader("Drafts"),
    viewerNotice(),
    errorBox,
    card("Generate", lockForViewer(h("fieldset", {}, accountHint, h("div", { class: "row align-items-end" }, h("div", { class: "col-md-6" }, field("Campaign", campaignSel)), h("div", { class: "col-md-2" }, field("How many", count)), h("div", { class: "col-md-4 mb-3" }, generate)), h("fieldset", { class: "mb-2" }, h("legend", { class: "form-label fs-6 mb-1" }, "Also write for"), channels.element, h("div", { class: "form-text" }, "Each draft goes to the campaign's account and these, one post per network, within the strictest network's limit.")), resultBox))),
    card("Waiting for approval", box),
  );
  await ctx.every(() => refresh(), 5000);
}
