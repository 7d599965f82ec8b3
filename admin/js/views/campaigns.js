// Campaigns: list, create, edit, and the brief the generator writes drafts from.
import { canEdit, get, listAll, patch, post, session, ws } from "../api.js";
import { timeZones } from "../time.js";
import { card, clear, field, fmtDate, h, icon, statusBadge, table } from "../dom.js";
import { act, editable, lockForViewer, pageHeader, toast, viewerNotice } from "../ui.js";

function campaignForm(campaign, onSaved) {
  const name = h("input", { class: "form-control", name: "name", maxlength: 120, required: true, value: campaign?.name || "" });
  const description = h("textarea", { class: "form-control", name: "description", rows: 3 });
  description.value = campaign?.description || "";
  const audience = h("input", { class: "form-control", name: "target_audience", value: campaign?.target_audience || "" });
  const tz = h("select", { class: "form-select", name: "timezone" }, timeZones().map((z) => h("option", { value: z }, z)));
  tz.value = campaign?.timezone || session.workspace?.timezone || "UTC";
  const status = h("select", { class: "form-select", name: "status" }, ["draft", "active", "paused", "ended"].map((x) => h("option", { value: x }, x)));
  status.value = campaign?.status || "active";
  const tone = h("input", { class: "form-control", name: "tone", value: campaign?.tone || "" });
  const hashtags = h("input", { class: "form-control", name: "hashtags", value: (campaign?.hashtags || []).join(" ") });
  const submit = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon(campaign ? "save" : "plus-lg"), campaign ? "Save" : "Create campaign"));
  const box = h("div");
  const fs = lockForViewer(
    h(
      "fieldset",
      {},
      field("Name", name),
      field("Description", description, "What the campaign is about; the generator writes drafts from it."),
      h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Audience", audience)), h("div", { class: "col-md-6" }, field("Tone", tone))),
      h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Timezone", tz)), h("div", { class: "col-md-6" }, field("Status", status))),
      field("Hashtags", hashtags, "Separated by spaces, e.g. #hiring #python"),
      submit,
    ),
  );
  const form = h("form", { id: campaign ? "campaign-edit" : "campaign-create", novalidate: true }, box, fs);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {
      name: name.value.trim(),
      description: description.value.trim(),
      target_audience: audience.value.trim(),
      tone: tone.value.trim() || null,
      timezone: tz.value,
      status: status.value,
      hashtags: hashtags.value.split(/[\s,]+/).filter(Boolean),
    };
    act(submit, () => (campaign ? patch(ws(`/campaigns/${encodeURIComponent(campaign.id)}`), body) : post(ws("/campaigns"), body)), { errorBox: box }).then((saved) => {
      if (saved) {
        toast(campaign ? "Campaign saved" : `Campaign “${saved.name || body.name}” created`);
        onSaved(saved);
      }
    });
  });
  return form;
}

async function renderDetail(root, id) {
  const campaign = await get(ws(`/campaigns/${encodeURIComponent(id)}`));
  const costBox = h("div");
  const title = h("h1", { class: "h3 mb-0 me-auto campaign-name" });
  title.textContent = campaign.name;
  root.append(
    h("div", { class: "d-flex align-items-center mb-3 gap-2" }, h("a", { href: "#/campaigns", class: "btn btn-sm btn-outline-secondary" }, icon("arrow-left"), "Campaigns"), title, statusBadge(campaign.status || "active"),
      editable(h("a", { class: "btn btn-primary", href: `#/compose?campaign=${encodeURIComponent(id)}` }, icon("pencil-square"), "Compose a post")),
      h("a", { class: "btn btn-outline-info", href: `#/history?campaign=${encodeURIComponent(id)}` }, icon("clock-history"), "History")),
    viewerNotice(),
    h("div", { class: "row g-3" }, h("div", { class: "col-lg-8" }, card("Campaign", campaignForm(campaign, () => location.reload()))), h("div", { class: "col-lg-4" }, card("Estimated X cost", costBox))),
  );
  const cost = await get(ws(`/campaigns/${encodeURIComponent(id)}/cost`)).catch(() => null);
  if (cost) {
    costBox.append(
      h("div", { class: "display-6", id: "campaign-cost" }, `$${Number(cost.total_usd ?? cost.total ?? 0).toFixed(3)}`),
      h("div", { class: "small text-body-secondary" }, `${cost.posts ?? 0} live or published post(s)`),
      h("ul", { class: "small mt-2" }, Object.entries(cost.by_status_usd || {}).map(([k, v]) => h("li", {}, `${k}: $${Number(v).toFixed(3)}`))),
    );
  } else costBox.append(h("span", { class: "text-body-secondary" }, "–"));
}

export async function render(root, ctx) {
  if (ctx.rest[0]) return renderDetail(root, ctx.rest[0]);
  const listBox = h("div", { id: "campaign-list" });
  const refresh = async () => {
    const items = await listAll(ws("/campaigns"));
    const rows = items.map((c) =>
      h(
        "tr",
        { dataset: { id: c.id } },
        h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(c.id)}`, class: "campaign-link" }, c.name)),
        h("td", { class: "wrap small text-body-secondary" }, c.description || ""),
        h("td", {}, statusBadge(c.status || "active")),
        h("td", { class: "small" }, fmtDate(c.created_at)),
      ),
    );
    clear(listBox).append(table(["Name", "Description", "Status", "Created"], rows, "No campaigns yet: create the first one."));
  };
  root.append(pageHeader("Campaigns"), viewerNotice());
  const createCard = card("New campaign", campaignForm(null, () => {
    refresh();
    root.querySelector("#campaign-create")?.reset();
  }));
  createCard.id = "new-campaign";
  if (canEdit()) root.append(createCard);
  root.append(card("All campaigns", listBox));
  await refresh();

}
