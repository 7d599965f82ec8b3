// Generated drafts: ask the generator for drafts of a campaign, edit, approve or reject.
// The list refreshes every 5 s without ever touching a draft being edited: rows are
// kept by post id, and a row whose text differs from what the server last sent (or that
// has the focus) stays exactly as the person left it.
import { canEdit, list, listAll, patch, post, session, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, statusBadge, table } from "../dom.js";
import { act, editable, lockForViewer, pageHeader, showError, viewerNotice } from "../ui.js";
import { weigh } from "./compose.js";

function draftRow(p, names, errorBox, refresh) {
  const original = p.parts?.length ? p.parts[0] : p.text || "";
  const ta = h("textarea", { class: "form-control form-control-sm", rows: 3, "aria-label": `Text of the draft for ${names.get(p.campaign_id) || "no campaign"}`, value: original });
  const counter = h("span", { class: "counter small" });
  const upd = () => {
    const r = weigh(ta.value);
    counter.textContent = `${r.weightedLength} / 280${ta.value !== original ? " · edited" : ""}`;
    counter.classList.toggle("over", !r.valid);
  };
  ta.addEventListener("input", upd);
  upd();
  ta.readOnly = !canEdit();
  const approve = editable(h("button", { class: "btn btn-sm btn-success", type: "button" }, icon("check2"), "Approve"));
  approve.addEventListener("click", () =>
    act(approve, async () => {
      if (ta.value !== original) await patch(ws(`/posts/${encodeURIComponent(p.id)}`), { parts: [ta.value, ...(p.parts || []).slice(1)] });
      return post(ws(`/posts/${encodeURIComponent(p.id)}/approve`), {});
    }, { errorBox, done: "Draft approved" }).then((ok) => ok && refresh(p.id)),
  );
  const reject = editable(h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("x-lg"), "Reject"));
  reject.addEventListener("click", () => act(reject, () => post(ws(`/posts/${encodeURIComponent(p.id)}/cancel`), {}), { errorBox, done: "Draft rejected" }).then((ok) => ok && refresh(p.id)));
  const edit = h("a", { class: "btn btn-sm btn-outline-secondary", href: `#/compose?post=${encodeURIComponent(p.id)}` }, icon("pencil"), "Open");
  const thread = (p.parts?.length ? p.parts : [p.text || ""]).join("\n—\n");
  const tr = h(
    "tr",
    { dataset: { id: p.id } },
    h("td", { class: "small" }, names.get(p.campaign_id) || "", h("div", {}, statusBadge(p.source === "generated" ? "generated" : p.status))),
    h("td", {}, p.parts?.length > 1 ? h("div", { class: "small text-body-secondary" }, `thread of ${p.parts.length}`) : null, ta, counter, p.parts?.length > 1 ? h("div", { class: "small wrap text-body-secondary" }, thread) : null),
    h("td", { class: "small" }, fmtDate(p.created_at, session.workspace?.timezone)),
    h("td", { class: "text-nowrap" }, h("div", { class: "d-flex gap-1" }, approve, reject, edit)),
  );
  return { tr, ta, original, version: `${p.updated_at}|${original}`, busy: () => document.activeElement === ta || ta.value !== original };
}

export async function render(root, ctx) {
  const campaigns = await listAll(ws("/campaigns")).catch(() => []);
  const names = new Map(campaigns.map((c) => [c.id, c.name]));
  const errorBox = h("div");
  const campaignSel = h("select", { class: "form-select", id: "drafts-campaign" }, campaigns.map((c) => h("option", { value: c.id }, c.name)));
  if (ctx.params.get("campaign")) campaignSel.value = ctx.params.get("campaign");
  const count = h("input", { class: "form-control", type: "number", min: 1, max: 20, value: 5, id: "drafts-count" });
  const generate = editable(h("button", { class: "btn btn-primary", type: "button", id: "drafts-generate" }, icon("stars"), "Generate drafts"));
  const accountHint = h("div", { id: "drafts-account-hint" });
  const syncHint = () => {
    const c = campaigns.find((x) => x.id === campaignSel.value);
    clear(accountHint);
    generate.disabled = !c || !c.account_id || !canEdit();
    if (c && !c.account_id) {
      accountHint.append(h("div", { class: "alert alert-warning py-2" }, icon("signpost-split"), " This campaign has no X account yet: drafts are written for one. ", h("a", { class: "alert-link", href: `#/campaigns/${encodeURIComponent(c.id)}` }, "Choose its X account")));
    }
  };
  campaignSel.addEventListener("change", syncHint);
  syncHint();
  const box = h("div", { id: "drafts-list" });
  const resultBox = h("div", { id: "drafts-result" });
  const rows = new Map(); // post id -> row
  let tbody = null;

  async function refresh(gone) {
    if (gone) rows.delete(gone);
    const page = await list(ws("/posts"), { status: "draft", limit: 100 });
    const seen = new Set();
    for (const p of page.items) {
      seen.add(p.id);
      const row = rows.get(p.id);
      const version = `${p.updated_at}|${p.parts?.length ? p.parts[0] : p.text || ""}`;
      if (row && (row.busy() || row.version === version)) continue; // never over an edit
      rows.set(p.id, draftRow(p, names, errorBox, refresh));
    }
    for (const [id, row] of rows) if (!seen.has(id) && !row.busy()) rows.delete(id);
    const wanted = page.items.filter((p) => rows.has(p.id)).map((p) => rows.get(p.id).tr);
    for (const [id, row] of rows) if (!seen.has(id)) wanted.push(row.tr); // edited, gone on the server
    if (!tbody || !rows.size) {
      clear(box).append(table(["Campaign", "Draft", "Created", ""], wanted, "No drafts waiting."));
      tbody = rows.size ? box.querySelector("tbody") : null;
      return;
    }
    const current = Array.from(tbody.children);
    if (current.length === wanted.length && current.every((tr, i) => tr === wanted[i])) return;
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
    const r = await act(generate, () => post(ws(`/campaigns/${encodeURIComponent(campaignSel.value)}/generate`), { count: Number(count.value) }), { errorBox });
    if (r) {
      clear(resultBox).append(
        h("div", { class: `alert ${r.error ? "alert-warning" : "alert-success"} py-2` },
          `${(r.drafts || []).length} draft(s) written by the ${r.generator} generator`,
          r.generator === "offline" ? h("span", { class: "badge text-bg-warning ms-2" }, "offline: templates, no AI") : null,
          (r.rejected || []).length ? `; ${r.rejected.length} rejected (too long or too similar to earlier posts)` : "",
          r.error ? h("div", { class: "small" }, typeof r.error === "string" ? r.error : r.error.message || JSON.stringify(r.error)) : null),
      );
      await refresh();
    }
  });
  root.append(
    pageHeader("Drafts"),
    viewerNotice(),
    errorBox,
    card("Generate", lockForViewer(h("fieldset", {}, accountHint, h("div", { class: "row align-items-end" }, h("div", { class: "col-md-6" }, field("Campaign", campaignSel)), h("div", { class: "col-md-2" }, field("How many", count)), h("div", { class: "col-md-4 mb-3" }, generate)), resultBox))),
    card("Waiting for approval", box),
  );
  await ctx.every(() => refresh(), 5000);
}
