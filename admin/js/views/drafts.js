// Generated drafts: ask the generator for drafts of a campaign, edit, approve or reject.
import { canEdit, list, listAll, patch, post, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, statusBadge, table } from "../dom.js";
import { act, editable, lockForViewer, pageHeader, showError, viewerNotice } from "../ui.js";
import { weigh } from "./compose.js";

export async function render(root, ctx) {
  const campaigns = await listAll(ws("/campaigns")).catch(() => []);
  const names = new Map(campaigns.map((c) => [c.id, c.name]));
  const errorBox = h("div");
  const campaignSel = h("select", { class: "form-select", id: "drafts-campaign" }, campaigns.map((c) => h("option", { value: c.id }, c.name)));
  if (ctx.params.get("campaign")) campaignSel.value = ctx.params.get("campaign");
  const count = h("input", { class: "form-control", type: "number", min: 1, max: 20, value: 5, id: "drafts-count" });
  const generate = editable(h("button", { class: "btn btn-primary", type: "button", id: "drafts-generate" }, icon("stars"), "Generate drafts"));
  const box = h("div", { id: "drafts-list" });
  const resultBox = h("div", { id: "drafts-result" });
  const refresh = async () => {
    const page = await list(ws("/posts"), { status: "draft", limit: 100 });
    const rows = page.items.map((p) => {
      const text = (p.parts?.length ? p.parts : [p.text || ""]).join("\n—\n");
      const ta = h("textarea", { class: "form-control form-control-sm", rows: 3, "aria-label": "Draft text" });
      ta.value = p.parts?.length ? p.parts[0] : p.text || "";
      const counter = h("span", { class: "counter small" });
      const upd = () => {
        const r = weigh(ta.value);
        counter.textContent = `${r.weightedLength} / 280`;
        counter.classList.toggle("over", !r.valid);
      };
      ta.addEventListener("input", upd);
      upd();
      ta.readOnly = !canEdit();
      const approve = editable(h("button", { class: "btn btn-sm btn-success", type: "button" }, icon("check2"), "Approve"));
      approve.addEventListener("click", () =>
        act(approve, async () => {
          const original = p.parts?.length ? p.parts[0] : p.text;
          if (ta.value !== original) await patch(ws(`/posts/${encodeURIComponent(p.id)}`), { parts: [ta.value, ...(p.parts || []).slice(1)] });
          return post(ws(`/posts/${encodeURIComponent(p.id)}/approve`), {});
        }, { errorBox, done: "Draft approved" }).then(refresh),
      );
      const reject = editable(h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("x-lg"), "Reject"));
      reject.addEventListener("click", () => act(reject, () => post(ws(`/posts/${encodeURIComponent(p.id)}/cancel`), {}), { errorBox, done: "Draft rejected" }).then(refresh));
      const edit = h("a", { class: "btn btn-sm btn-outline-secondary", href: `#/compose?post=${encodeURIComponent(p.id)}` }, icon("pencil"), "Open");
      return h(
        "tr",
        { dataset: { id: p.id } },
        h("td", { class: "small" }, names.get(p.campaign_id) || "", h("div", {}, statusBadge(p.source === "generated" ? "generated" : p.status))),
        h("td", {}, p.parts?.length > 1 ? h("div", { class: "small text-body-secondary" }, `thread of ${p.parts.length}`) : null, ta, counter, p.parts?.length > 1 ? h("div", { class: "small wrap text-body-secondary" }, text) : null),
        h("td", { class: "small" }, fmtDate(p.created_at)),
        h("td", { class: "text-nowrap" }, h("div", { class: "d-flex gap-1" }, approve, reject, edit)),
      );
    });
    clear(box).append(table(["Campaign", "Draft", "Created", ""], rows, "No drafts waiting."));
  };
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
    card("Generate", lockForViewer(h("fieldset", {}, h("div", { class: "row align-items-end" }, h("div", { class: "col-md-6" }, field("Campaign", campaignSel)), h("div", { class: "col-md-2" }, field("How many", count)), h("div", { class: "col-md-4 mb-3" }, generate)), resultBox))),
    card("Waiting for approval", box),
  );
  await ctx.every(refresh, 5000);
}
