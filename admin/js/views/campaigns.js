// Campaigns: list, create, edit, the account its posts go to and the other channels
// (any network) its generated posts also go to, and the brief the generator writes
// drafts from (approval, autopilot, images).
import { canEdit, del, get, listAll, patch, post, session, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, selectDefault, statusBadge, table } from "../dom.js";
import { act, confirmButton, editable, exportButton, lockForViewer, pageHeader, toast, viewerNotice } from "../ui.js";
import { zoneSelect } from "../zones.js";
import { channelName, channelPicker } from "./channels.js";

const STATUSES = ["draft", "active", "paused", "ended"];

function accountSelect(accounts, value) {
  const select = h(
    "select",
    { class: "form-select", name: "account_id" },
    h("option", { value: "" }, accounts.length ? "— choose the account —" : "no account yet: connect one in Settings"),
    accounts.map((a) => h("option", { value: a.id }, channelName(a))),
  );
  return selectDefault(select, value ?? (accounts.length === 1 ? accounts[0].id : ""));
}

function campaignForm(campaign, accounts, onSaved) {
  const name = h("input", { class: "form-control", name: "name", maxlength: 200, required: true, value: campaign?.name || "" });
  const description = h("textarea", { class: "form-control", name: "description", rows: 3, value: campaign?.description || "" });
  const audience = h("input", { class: "form-control", name: "target_audience", value: campaign?.target_audience || "" });
  const tz = zoneSelect({ name: "timezone" }, campaign?.timezone || session.workspace?.timezone || "UTC");
  const status = selectDefault(h("select", { class: "form-select", name: "status" }, STATUSES.map((x) => h("option", { value: x }, x))), campaign?.status || "active");
  const tone = h("input", { class: "form-control", name: "tone", value: campaign?.tone || "" });
  const hashtags = h("input", { class: "form-control", name: "hashtags", value: (campaign?.hashtags || []).join(" ") });
  const account = accountSelect(accounts, campaign ? campaign.account_id || "" : undefined);
  const formId = campaign ? "campaign-edit" : "campaign-create";
  const channels = channelPicker(accounts, () => account.value, { id: `${formId}-channels`, chosen: campaign?.channels || [] });
  account.addEventListener("change", channels.redraw);
  const submit = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon(campaign ? "save" : "plus-lg"), campaign ? "Save" : "Create campaign"));
  const box = h("div");
  const fs = lockForViewer(
    h(
      "fieldset",
      {},
      field("Name", name),
      field("Description", description, "What the campaign is about; the generator writes drafts from it."),
      h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Audience", audience)), h("div", { class: "col-md-6" }, field("Tone", tone))),
      h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Account", account, "Where the campaign's generated and planned posts go.")), h("div", { class: "col-md-6" }, field("Status", status))),
      h("fieldset", { class: "mb-3" }, h("legend", { class: "form-label fs-6 mb-1" }, "Also post to"), channels.element, h("div", { class: "form-text" }, "Generated drafts and autopilot go to these too, one post per network, each written within the strictest network's limit (up to 9 besides the account).")),
      field("Timezone", tz, "Posting plans, autopilot times and the campaign's days are in this zone."),
      field("Hashtags", hashtags, "Separated by spaces, e.g. #hiring #python"),
      submit,
    ),
  );
  const form = h("form", { id: formId, novalidate: true }, box, fs);
  form.addEventListener("reset", () => setTimeout(() => channels.reset(campaign?.channels || [])));
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
      account_id: account.value || null,
      channels: channels.selected(),
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

/** The brief's generation settings and autopilot (GET/PATCH the campaign). */
function briefForm(campaign) {
  const auto = campaign.autopilot || {};
  const image = campaign.image || {};
  const check = (id, checked, label) => h("div", { class: "form-check mb-2" }, h("input", { class: "form-check-input", type: "checkbox", id, checked: Boolean(checked) }), h("label", { class: "form-check-label", for: id }, label));
  const approval = check("brief-approval", campaign.approval_required !== false, "Drafts need approval before they are scheduled");
  const autopilot = check("brief-autopilot", auto.enabled, "Autopilot: keep the next days planned with generated drafts");
  const days = h("input", { class: "form-control", type: "number", min: 1, max: 30, id: "brief-days", value: auto.days_ahead ?? 7 });
  const perDay = h("input", { class: "form-control", type: "number", min: 1, max: 24, id: "brief-per-day", value: auto.posts_per_day ?? 1 });
  const times = h("input", { class: "form-control", id: "brief-times", placeholder: "e.g. 09:00 13:30 18:00", value: (auto.post_times || []).join(" ") });
  const language = h("input", { class: "form-control", id: "brief-language", value: campaign.language || "en", maxlength: 12 });
  const cta = h("input", { class: "form-control", id: "brief-cta", value: campaign.call_to_action || "" });
  const links = h("textarea", { class: "form-control", id: "brief-links", rows: 2, value: (campaign.links || []).join("\n") });
  const perPost = h("input", { class: "form-control", type: "number", min: 0, max: 30, id: "brief-hashtags", value: campaign.hashtags_per_post ?? 2 });
  const images = check("brief-images", image.enabled, "Branded image card on each generated draft");
  const kind = selectDefault(h("select", { class: "form-select", id: "brief-image-kind" }, ["card", "chart", "auto"].map((x) => h("option", { value: x }, x))), image.kind || "card");
  const size = selectDefault(h("select", { class: "form-select", id: "brief-image-size" }, [["landscape", "landscape 1600×900"], ["square", "square 1080×1080"]].map(([v, l]) => h("option", { value: v }, l))), image.size || "landscape");
  const last = campaign.autopilot_last_run;
  const lastRun = last
    ? h("div", { class: "small mb-3", id: "autopilot-last-run" }, "Last autopilot run: ", statusBadge(last.status), ` ${fmtDate(last.at, campaign.timezone)}`, last.status === "planned" ? ` · ${last.drafts} draft(s) for ${last.slots} slot(s)` : "", last.reason ? h("div", { class: "text-danger" }, last.reason) : null, (last.skipped_channels || []).map((c) => h("div", { class: "text-warning-emphasis skipped-channel" }, `Left out: ${c.reason}`)))
    : h("div", { class: "small text-body-secondary mb-3" }, "Autopilot has not run yet (it runs hourly for active campaigns).");
  const submit = editable(h("button", { class: "btn btn-primary", type: "submit", id: "brief-save" }, icon("save"), "Save generation settings"));
  const box = h("div");
  const form = h(
    "form",
    { id: "brief-form", novalidate: true },
    box,
    lockForViewer(
      h(
        "fieldset",
        {},
        approval,
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Language", language, "en, fr, pt-br…")), h("div", { class: "col-md-4" }, field("Hashtags per post", perPost)), h("div", { class: "col-md-4" }, field("Call to action", cta))),
        field("Links the drafts may use", links, "One per line."),
        images,
        h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Image kind", kind)), h("div", { class: "col-md-6" }, field("Image size", size))),
        h("hr"),
        autopilot,
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Days ahead", days)), h("div", { class: "col-md-4" }, field("Posts a day", perDay)), h("div", { class: "col-md-4" }, field("At (local times)", times, "Empty: spread over 09:00–21:00."))),
        lastRun,
        submit,
      ),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {
      approval_required: $checked(approval),
      language: language.value.trim() || "en",
      call_to_action: cta.value.trim(),
      links: links.value.split(/\s+/).filter(Boolean),
      hashtags_per_post: Number(perPost.value),
      image: { ...image, enabled: $checked(images), kind: kind.value, size: size.value },
      autopilot: { enabled: $checked(autopilot), days_ahead: Number(days.value), posts_per_day: Number(perDay.value), post_times: times.value.split(/[\s,]+/).filter(Boolean) },
    };
    act(submit, () => patch(ws(`/campaigns/${encodeURIComponent(campaign.id)}`), body), { errorBox: box, done: "Generation settings saved" });
  });
  return form;
}

function $checked(wrapper) {
  return wrapper.querySelector("input").checked;
}

async function renderDetail(root, id) {
  const [campaign, accounts] = await Promise.all([get(ws(`/campaigns/${encodeURIComponent(id)}`)), listAll(ws("/x/accounts")).catch(() => [])]);
  const costBox = h("div");
  const deleteBox = h("div"); // "cancel its scheduled posts first" lands here
  const title = h("h1", { class: "h3 mb-0 me-auto campaign-name" });
  title.textContent = campaign.name;
  root.append(
    h("div", { class: "d-flex align-items-center mb-3 gap-2 flex-wrap" }, h("a", { href: "#/campaigns", class: "btn btn-sm btn-outline-secondary" }, icon("arrow-left"), "Campaigns"), title, statusBadge(campaign.status || "active"),
      editable(h("a", { class: "btn btn-primary", href: `#/compose?campaign=${encodeURIComponent(id)}` }, icon("pencil-square"), "Compose a post")),
      editable(h("a", { class: "btn btn-outline-primary", href: `#/drafts?campaign=${encodeURIComponent(id)}` }, icon("stars"), "Generate drafts")),
      h("a", { class: "btn btn-outline-info", href: `#/history?campaign=${encodeURIComponent(id)}` }, icon("clock-history"), "History"),
      confirmButton("Delete", "Confirm delete", "danger", (b) =>
        act(b, () => del(ws(`/campaigns/${encodeURIComponent(id)}`)), { errorBox: deleteBox }).then((ok) => {
          if (ok === null) {
            toast(`Campaign “${campaign.name}” deleted`);
            location.hash = "#/campaigns";
          }
        }),
      )),
    deleteBox,
    viewerNotice(),
    h(
      "div",
      { class: "row g-3" },
      h("div", { class: "col-lg-8" }, card("Campaign", campaignForm(campaign, accounts, () => location.reload())), card("Generation and autopilot", briefForm(campaign))),
      h("div", { class: "col-lg-4" }, card("Estimated X cost", costBox)),
    ),
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
  const accounts = await listAll(ws("/x/accounts")).catch(() => []);
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const named = (id) => (byId.has(id) ? channelName(byId.get(id)) : id);
  const listBox = h("div", { id: "campaign-list" });
  const refresh = async () => {
    const items = await listAll(ws("/campaigns"));
    const rows = items.map((c) =>
      h(
        "tr",
        { dataset: { id: c.id } },
        h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(c.id)}`, class: "campaign-link" }, c.name)),
        h("td", { class: "wrap small text-body-secondary" }, c.description || ""),
        h("td", { class: "small campaign-channels" }, c.account_id ? [c.account_id, ...(c.channels || [])].map((id) => h("div", {}, named(id))) : h("span", { class: "text-body-secondary" }, "no account")),
        h("td", {}, statusBadge(c.status || "active"), c.autopilot?.enabled ? h("span", { class: "badge text-bg-info ms-1" }, "autopilot") : null),
        h("td", { class: "small" }, fmtDate(c.created_at, session.workspace?.timezone)),
      ),
    );
    clear(listBox).append(table(["Name", "Description", "Posts to", "Status", "Created"], rows, "No campaigns yet: create the first one."));
  };
  root.append(pageHeader("Campaigns", exportButton("campaigns"), exportButton("posts", "Export posts CSV")), viewerNotice());
  const createForm = campaignForm(null, accounts, () => {
    refresh();
    createForm.reset(); // back to the real defaults: the workspace's zone, active, the account
  });
  const createCard = card("New campaign", createForm);
  createCard.id = "new-campaign";
  if (canEdit()) root.append(createCard);
  root.append(card("All campaigns", listBox));
  await refresh();
}
