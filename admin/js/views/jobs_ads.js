// Job ads → Ad campaigns: the platforms' credentials, a campaign for an opening (budget,
// start and end, targeting under the employment rules, checked before saving), its
// publishing (a refusal says what to fix and where), and performance.
import { del, get, isOwner, listAll, patch, post, put, session, ws } from "../api.js";
import { chart, palette } from "../charts.js";
import { card, clear, field, fmtDate, fmtNumber, fmtPct, h, icon, selectDefault, statusBadge, table } from "../dom.js";
import { zonedToUtc } from "../time.js";
import { act, confirmButton, editable, exportButton, lockForViewer, showError, toast } from "../ui.js";

const AD_FIELDS = {
  meta: [
    ["account_id", "Ad account id (digits)"],
    ["page_id", "Facebook Page id"],
    ["access_token", "Access token", "password"],
  ],
  google: [
    ["account_id", "Customer id (digits)"],
    ["login_customer_id", "Manager account id (optional)"],
    ["developer_token", "Developer token", "password"],
    ["client_id", "OAuth client id"],
    ["client_secret", "OAuth client secret", "password"],
    ["refresh_token", "Refresh token", "password"],
  ],
};

async function adAccounts() {
  const errorBox = h("div");
  const box = h("div", { id: "ad-accounts" });
  const draw = async () => {
    const accounts = await get(ws("/ads/accounts")).catch(() => []);
    const rows = (Array.isArray(accounts) ? accounts : accounts.items || []).map((a) => {
      const forms = h("div");
      if (isOwner()) {
        const inputs = AD_FIELDS[a.platform].map(([name, label, type]) => h("input", { class: "form-control form-control-sm", name, type: type || "text", placeholder: label, "aria-label": `${a.platform === "meta" ? "Meta" : "Google Ads"}: ${label}`, autocomplete: "off" }));
        const save = h("button", { class: "btn btn-sm btn-outline-primary", type: "submit" }, icon("key"), a.connected ? "Replace" : "Connect");
        const form = h("form", { class: "d-flex gap-1 flex-wrap" }, inputs, save);
        form.addEventListener("submit", async (e) => {
          e.preventDefault();
          const body = Object.fromEntries(inputs.filter((i) => i.value.trim()).map((i) => [i.name, i.value.trim()]));
          if (await act(save, () => put(ws(`/ads/accounts/${a.platform}`), body), { errorBox, done: `${a.platform} connected` })) await draw();
        });
        forms.append(form);
        if (a.connected) {
          const remove = confirmButton("Remove credentials", "Confirm: remove", "danger", (b) => act(b, () => del(ws(`/ads/accounts/${a.platform}`)), { errorBox, done: `${a.platform} credentials removed` }).then(draw));
          forms.append(h("div", { class: "mt-1" }, remove));
        }
      }
      return h(
        "tr",
        { dataset: { platform: a.platform } },
        h("td", {}, a.platform === "meta" ? "Meta" : "Google Ads"),
        h("td", {}, a.connected ? h("span", { class: "badge text-bg-success" }, `connected ${a.account_id || ""}`) : session.sandbox ? h("span", { class: "badge text-bg-warning" }, "sandbox: recorded, not published") : h("span", { class: "badge text-bg-secondary" }, "not connected")),
        h("td", {}, forms),
      );
    });
    clear(box).append(table(["Platform", "State", isOwner() ? "Credentials (kept in the secrets store)" : ""], rows));
  };
  await draw();
  return card("Ad accounts", h("div", {}, errorBox, box));
}

/** Targeting from the form: countries, cities with a radius, keywords, Meta interests. */
function targeting(t) {
  const cities = t.cities.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const [name, radius] = l.split(/\s*[,;]\s*(?=\d+\s*$)/);
    return { name: name.trim(), radius_miles: radius ? Number(radius) : 25 };
  });
  const interests = t.interests.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const [id, ...name] = l.split(/[:\s]\s*/);
    return { id, name: name.join(" ") };
  });
  return {
    countries: t.countries.value.split(/[\s,]+/).filter(Boolean).map((c) => c.toUpperCase()),
    cities,
    keywords: t.keywords.value.split(/,/).map((k) => k.trim()).filter(Boolean),
    interests,
  };
}

function campaignForm(openings, segments, onCreated) {
  const errorBox = h("div", { id: "ads-form-errors" });
  const tz = session.workspace?.timezone || "UTC";
  const name = h("input", { class: "form-control", id: "ads-name", maxlength: 120, placeholder: "default: the opening's title and company" });
  const opening = h("select", { class: "form-select", id: "ads-opening_id", required: true }, openings.map((o) => h("option", { value: o.id }, `${o.title} (${o.status})`)));
  const segs = h("select", { class: "form-select", id: "ads-segment_ids", multiple: true }, segments.map((x) => h("option", { value: x.id }, x.label)));
  const platforms = selectDefault(h("select", { class: "form-select", id: "ads-platforms", required: true }, [["meta", "Meta"], ["google", "Google Ads"], ["meta,google", "Both"]].map(([v, l]) => h("option", { value: v }, l))), "meta");
  const budget = h("input", { class: "form-control", id: "ads-daily_budget", type: "number", min: 1, step: "0.01", required: true });
  const currency = h("input", { class: "form-control", id: "ads-currency", maxlength: 3, placeholder: "the salary's" });
  const start = h("input", { class: "form-control", id: "ads-start", type: "datetime-local", step: 1 });
  const end = h("input", { class: "form-control", id: "ads-end", type: "datetime-local", step: 1 });
  const t = {
    countries: h("input", { class: "form-control", id: "ads-countries", placeholder: "FR, BE", required: true }),
    cities: h("textarea", { class: "form-control", id: "ads-cities", rows: 2, placeholder: "Lyon, 25" }),
    keywords: h("input", { class: "form-control", id: "ads-keywords", placeholder: "python, backend" }),
    interests: h("textarea", { class: "form-control", id: "ads-interests", rows: 2, placeholder: "6003: Software" }),
  };
  const prefill = () => {
    const o = openings.find((x) => x.id === opening.value);
    t.countries.value = o?.location?.country || "";
    t.cities.value = o?.location?.city ? `${o.location.city}, 25` : "";
  };
  opening.addEventListener("change", prefill);
  prefill();
  const checkResult = h("div", { class: "small mt-1", id: "ads-targeting-result" });
  const check = h("button", { class: "btn btn-sm btn-outline-info", type: "button", id: "ads-check" }, icon("shield-check"), "Check targeting");
  check.addEventListener("click", async () => {
    clear(checkResult);
    const r = await act(check, () => post(ws("/ads/targeting/check"), { targeting: targeting(t) }), { errorBox: checkResult });
    if (r) checkResult.append(h("span", { class: "text-success" }, icon("check2"), " Allowed for employment ads."));
  });
  const submit = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon("plus-lg"), "Create ad campaign"));
  const form = h(
    "form",
    { id: "ads-form", novalidate: true },
    errorBox,
    lockForViewer(
      h(
        "fieldset",
        {},
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Name", name)), h("div", { class: "col-md-4" }, field("Opening", opening)), h("div", { class: "col-md-4" }, field("Segments (none: everyone)", segs, "Ctrl/⌘-click to pick several"))),
        h("div", { class: "row" }, h("div", { class: "col-md-3" }, field("Platforms", platforms)), h("div", { class: "col-md-3" }, field("Daily budget", budget)), h("div", { class: "col-md-2" }, field("Currency", currency)), h("div", { class: "col-md-2" }, field("Starts", start, `Empty: now. ${tz}.`)), h("div", { class: "col-md-2" }, field("Ends", end, "Optional."))),
        h("fieldset", { class: "border rounded p-2 mb-3" }, h("legend", { class: "fs-6 px-1 w-auto float-none mb-0" }, "Targeting (employment rules: no age, gender or ZIP; radius ≥ 15 miles)"),
          h("div", { class: "row" }, h("div", { class: "col-md-3" }, field("Countries", t.countries, "Two-letter codes.")), h("div", { class: "col-md-3" }, field("Cities", t.cities, "One a line: name, radius in miles.")), h("div", { class: "col-md-3" }, field("Keywords (Google)", t.keywords, "Comma-separated.")), h("div", { class: "col-md-3" }, field("Interests (Meta)", t.interests, "One a line: id: name."))),
          h("div", {}, check, checkResult)),
        submit,
      ),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const at = (input) => (input.value ? zonedToUtc(input.value, tz)?.toISOString() : undefined);
    const body = {
      opening_id: opening.value,
      name: name.value.trim() || undefined,
      segment_ids: Array.from(segs.selectedOptions, (o) => o.value),
      platforms: platforms.value.split(","),
      daily_budget: Number(budget.value),
      currency: currency.value.trim() || undefined,
      start_at: at(start),
      end_at: at(end),
      targeting: targeting(t),
    };
    const created = await act(submit, () => post(ws("/ads/campaigns"), body), { errorBox });
    if (created) {
      toast(`Ad campaign “${created.name}” created`);
      form.reset();
      prefill();
      onCreated();
    }
  });
  return form;
}

/** The daily budget; editable (PATCH) while the campaign is a draft or scheduled. */
function budgetCell(r, refresh, errorBox) {
  const shown = `${fmtNumber(r.daily_budget, 2)} ${r.currency || ""}`;
  if (!["draft", "scheduled"].includes(r.status)) return shown;
  const input = editable(h("input", { class: "form-control form-control-sm budget-input", type: "number", min: 1, step: "0.01", value: r.daily_budget, "aria-label": `Daily budget of ${r.name} (${r.currency || ""})`, dataset: { editing: "" } }));
  input.addEventListener("change", () => act(input, () => patch(ws(`/ads/campaigns/${encodeURIComponent(r.id)}`), { daily_budget: Number(input.value) }), { errorBox, done: `Budget of ${r.name}: ${input.value} ${r.currency || ""}/day` }).then(refresh));
  return h("div", { class: "d-flex gap-1 align-items-center" }, input, h("span", { class: "small" }, r.currency || ""));
}

function adActions(r, refresh, errorBox) {
  const out = h("div", { class: "d-flex gap-1" });
  const btn = (label, iconName, path, colour) => {
    const b = editable(h("button", { class: `btn btn-sm btn-outline-${colour}`, type: "button" }, icon(iconName), label));
    // A refusal (the opening is not open, say) shows above the list with a link to fix it.
    b.addEventListener("click", () => act(b, () => post(ws(`/ads/campaigns/${encodeURIComponent(r.id)}/${path}`), {}), { errorBox, done: `${label}: done` }).then(refresh));
    return b;
  };
  if (["draft", "failed"].includes(r.status)) out.append(btn("Publish", "play", "publish", "success"));
  if (r.status === "paused") out.append(btn("Resume", "play", "resume", "success"));
  if (["active", "scheduled", "publishing"].includes(r.status)) out.append(btn("Pause", "pause", "pause", "warning"));
  if (!["archived", "draft"].includes(r.status)) out.append(btn("Archive", "archive", "archive", "secondary"));
  if (r.status === "draft") out.append(confirmButton("Delete", "Confirm delete", "danger", (b) => act(b, () => del(ws(`/ads/campaigns/${encodeURIComponent(r.id)}`)), { errorBox, done: "Ad campaign deleted" }).then(refresh)));
  return out;
}

export async function render(root, ctx) {
  const [openings, segments] = await Promise.all([listAll(ws("/jobs/openings")).catch(() => []), listAll(ws("/jobs/segments")).catch(() => [])]);
  const perf = h("canvas", { id: "ads-performance", role: "img", "aria-label": "Ad performance" });
  const perfTable = h("div", { class: "mt-3", id: "ads-performance-table" });
  const errorBox = h("div", { id: "ads-errors" });
  const listBox = h("div", { id: "ads-list" });
  const tz = session.workspace?.timezone || "UTC";
  const refresh = async () => {
    const items = await listAll(ws("/ads/campaigns"));
    clear(listBox).append(
      table(
        ["Name", "Platforms", "Budget/day", "Runs", "Targeting", "Status", ""],
        items.map((r) =>
          h(
            "tr",
            { dataset: { id: r.id } },
            h("td", {}, r.name),
            h("td", {}, (r.platforms || []).join(", ")),
            h("td", {}, budgetCell(r, refresh, errorBox)),
            h("td", { class: "small" }, `${fmtDate(r.start_at, tz)} → ${r.end_at ? fmtDate(r.end_at, tz) : "no end"}`),
            h("td", { class: "small" }, [(r.targeting?.countries || []).join(" "), ...(r.targeting?.cities || []).map((c) => `${c.name} ${c.radius_miles} mi`), (r.targeting?.keywords || []).slice(0, 3).join(", ")].filter(Boolean).join(" · ")),
            h("td", {}, statusBadge(r.status), Object.values(r.publications || {}).some((x) => x?.sandbox) || r.sandbox ? h("span", { class: "badge text-bg-warning ms-1" }, "sandbox") : null, r.error ? h("div", { class: "text-danger small" }, r.error.reason || r.error.message || String(r.error)) : null),
            h("td", {}, adActions(r, refresh, errorBox)),
          ),
        ),
        "No ad campaigns yet.",
      ),
    );
    return items;
  };
  // Publishing is asynchronous: the list refreshes every 5 s (not while a delete is armed).
  // Nor while a budget is being typed.
  ctx.timers.push(setInterval(() => !document.hidden && !listBox.querySelector("[data-armed]") && !listBox.querySelector(".budget-input:focus") && refresh().catch(() => {}), 5000));
  const formCard = openings.length
    ? campaignForm(openings, segments, refresh)
    : h("div", { class: "alert alert-info mb-0" }, "Create a job opening first: ", h("a", { href: "#/jobs/openings" }, "Openings"), ".");
  root.append(await adAccounts(), card("Ad campaigns", h("div", {}, formCard, h("hr"), errorBox, listBox), exportButton("ad_campaigns")), card("Performance", h("div", {}, h("div", { class: "chart-box" }, perf), perfTable), exportButton("ad_performance")));
  const campaigns = await refresh().catch((exc) => (showError(errorBox, exc), []));
  const metrics = await Promise.all(campaigns.slice(0, 10).map((c) => get(ws(`/ads/campaigns/${encodeURIComponent(c.id)}/performance`)).catch(() => null)));
  const totals = metrics.map((m) => m?.totals || {});
  perfTable.append(
    table(
      ["Campaign", "Impressions", "Clicks", "CTR", "Spend", "CPC"],
      campaigns.slice(0, 10).map((c, i) => h("tr", {}, h("td", {}, c.name), h("td", {}, fmtNumber(totals[i].impressions)), h("td", {}, fmtNumber(totals[i].clicks)), h("td", {}, fmtPct(totals[i].ctr)), h("td", {}, fmtNumber(totals[i].spend, 2)), h("td", {}, fmtNumber(totals[i].cpc, 2)))),
      "No ad campaign yet.",
    ),
  );
  chart(perf, {
    type: "bar",
    data: {
      labels: campaigns.slice(0, 10).map((c) => c.name),
      datasets: [
        { label: "impressions", data: totals.map((t) => t.impressions || 0), backgroundColor: palette(0) },
        { label: "clicks", data: totals.map((t) => t.clicks || 0), backgroundColor: palette(1) },
        { label: "applications", data: totals.map((t) => t.applications || t.conversions || 0), backgroundColor: palette(3) },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  });
}
