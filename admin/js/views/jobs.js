// Job ads: openings, candidates (import with its report), segments, ad campaigns and
// their performance.
import { canEdit, get, isOwner, listAll, patch, post, put, request, session, ws } from "../api.js";
import { chart, destroyCharts, palette } from "../charts.js";
import { card, clear, field, fmtNumber, fmtPct, h, icon, statusBadge, table } from "../dom.js";
import { resourceSection } from "../resource.js";
import { importReport } from "./email.js";
import { act, editable, lockForViewer, pageHeader, showError, toast, viewerNotice } from "../ui.js";

const TABS = [
  ["openings", "Openings", "briefcase"],
  ["candidates", "Candidates", "person-badge"],
  ["segments", "Segments", "diagram-3"],
  ["ads", "Ad campaigns", "badge-ad"],
];

export async function render(root, ctx) {
  const tab = ctx.rest[0] || "openings";
  root.append(
    pageHeader("Job ads"),
    viewerNotice(),
    h("ul", { class: "nav nav-tabs mb-3" }, TABS.map(([id, label, i]) => h("li", { class: "nav-item" }, h("a", { class: `nav-link${tab === id ? " active" : ""}`, href: `#/jobs/${id}`, id: `tab-${id}` }, icon(i), label)))),
  );
  const body = h("div");
  root.append(body);
  ctx.onLeave(() => destroyCharts(root));
  if (tab === "candidates") return candidates(body);
  if (tab === "segments") return segments(body);
  if (tab === "ads") return ads(body, ctx);
  return openings(body);
}

async function openings(root) {
  root.append(
    await resourceSection({
      id: "openings",
      title: "Openings",
      noun: "Opening",
      path: () => ws("/jobs/openings"),
      createLabel: "Create opening",
      empty: "No openings yet.",
      fields: [
        { name: "title", label: "Title", required: true },
        { name: "company", label: "Company", required: true },
        { name: "city", label: "City" },
        { name: "country", label: "Country (ISO code)", col: "col-md-2", help: "e.g. FR", required: true },
        { name: "salary_min", label: "Salary from", type: "number", col: "col-md-2", parse: Number },
        { name: "salary_max", label: "Salary to", type: "number", col: "col-md-2", parse: Number },
        { name: "salary_currency", label: "Currency", col: "col-md-2", value: "EUR" },
        { name: "salary_period", label: "Per", col: "col-md-2", options: () => ["year", "month", "week", "day", "hour"].map((x) => [x, x]) },
        { name: "apply_url", label: "Apply URL", type: "url", col: "col-md-6" },
        { name: "description", label: "Description", type: "textarea", col: "col-12" },
      ],
      transform: (b) => {
        const { city, country, ...rest } = b;
        rest.location = { country: (country || "").toUpperCase(), city: city || null };
        return rest;
      },
      columns: [
        ["Title", (r) => r.title],
        ["Company", (r) => r.company],
        ["Location", (r) => [r.location?.city, r.location?.region, r.location?.country].filter(Boolean).join(", ")],
        ["Salary", (r) => (r.salary_min || r.salary_max ? `${fmtNumber(r.salary_min)}–${fmtNumber(r.salary_max)} ${r.salary_currency || ""}/${r.salary_period || ""}` : "")],
        ["Status", (r) => openingStatus(r)],
      ],
    }),
  );
}

async function candidates(root) {
  const reportBox = h("div");
  const file = h("input", { class: "form-control", type: "file", id: "candidates-file", accept: ".csv,.xlsx" });
  const upload = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon("upload"), "Import"));
  const form = h("form", {}, lockForViewer(h("fieldset", {}, field("CSV or Excel file", file, "Columns: name, email, skills, years_experience, location, education, source."), upload)));
  const section = await resourceSection({
    id: "candidates",
    title: "Candidates",
    path: () => ws("/jobs/candidates"),
    empty: "No candidates yet: import a file.",
    columns: [
      ["Name", (r) => r.name],
      ["Skills", (r) => (r.skills || []).join(", ")],
      ["Experience", (r) => (r.years_experience ?? "") + (r.years_experience !== undefined && r.years_experience !== null ? " y" : "")],
      ["Location", (r) => r.location],
      ["Segment", (r) => r.segment_name || r.segment_id || ""],
    ],
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(reportBox);
    if (!file.files[0]) return showError(reportBox, new Error("Choose a file first."));
    const fd = new FormData();
    fd.append("file", file.files[0]);
    const r = await act(upload, () => request("POST", ws("/jobs/candidates/import"), fd), { errorBox: reportBox });
    if (r) {
      reportBox.append(card("Validation report", importReport(r)));
      toast("Candidates imported");
      section.refresh();
    }
  });
  root.append(card("Import candidates", h("div", {}, form, reportBox)), section);
}

async function segments(root) {
  const errorBox = h("div");
  const run = editable(h("button", { class: "btn btn-primary", type: "button", id: "segments-run" }, icon("diagram-3"), "Recompute segments"));
  const k = h("input", { class: "form-control", type: "number", min: 1, max: 20, id: "segments-k", placeholder: "automatic" });
  const section = await resourceSection({
    id: "segments",
    title: "Segments",
    path: () => ws("/jobs/segments"),
    empty: "No segments yet: import candidates, then recompute.",
    columns: [
      ["Segment", (r) => r.label],
      ["Candidates", (r) => `${fmtNumber(r.size)} (${fmtPct(r.share)})`],
      ["Experience", (r) => (r.profile?.median_years !== undefined && r.profile?.median_years !== null ? `median ${r.profile.median_years} y (${r.profile.p25_years}–${r.profile.p75_years})` : "")],
      ["Top skills", (r) => (r.profile?.top_skills || []).slice(0, 6).map((x) => `${x.value} ${Math.round(x.share * 100)}%`).join(", ")],
      ["Locations", (r) => (r.profile?.top_locations || []).slice(0, 4).map((x) => x.value).join(", ")],
    ],
  });
  // The run happens in the `segment` function; poll its status until it is done.
  const runState = h("div", { class: "small mt-1", id: "segments-run-state" });
  run.addEventListener("click", async () => {
    const r = await act(run, () => post(ws("/jobs/segmentations"), k.value ? { k: Number(k.value) } : {}), { errorBox });
    if (!r) return;
    for (let i = 0; i < 60; i += 1) {
      const st = await get(ws(`/jobs/segmentations/${encodeURIComponent(r.id)}`)).catch(() => null);
      runState.textContent = `segmentation ${st?.status || "…"}${st?.k ? `: ${st.k} segments of ${st.candidate_count} candidates` : ""}${st?.error ? ` — ${st.error}` : ""}`;
      if (!st || ["done", "failed"].includes(st.status)) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    section.refresh();
  });
  root.append(errorBox, card("Segmentation", h("div", { class: "d-flex gap-2 align-items-end" }, h("div", {}, field("Number of segments", k)), h("div", { class: "mb-3" }, run)), runState), section);
}

async function ads(root, ctx) {
  const [openingsList, segmentsList] = await Promise.all([listAll(ws("/jobs/openings")).catch(() => []), listAll(ws("/jobs/segments")).catch(() => [])]);
  const perf = h("canvas", { id: "ads-performance", role: "img", "aria-label": "Ad performance" });
  const perfTable = h("div", { class: "mt-3", id: "ads-performance-table" });
  const section = await resourceSection({
    id: "ads",
    title: "Ad campaigns",
    noun: "Ad campaign",
    path: () => ws("/ads/campaigns"),
    createLabel: "Create ad campaign",
    empty: "No ad campaigns yet.",
    fields: [
      { name: "name", label: "Name", required: true },
      { name: "opening_id", label: "Opening", options: () => openingsList.map((o) => [o.id, o.title]) },
      { name: "segment_ids", label: "Segments (none: everyone)", multiple: true, options: () => segmentsList.map((x) => [x.id, x.label]), help: "Ctrl/⌘-click to pick several" },
      { name: "platforms", label: "Platforms", options: () => [["meta", "Meta"], ["google", "Google Ads"], ["meta,google", "Both"]], parse: (v) => v.split(","), required: true },
      { name: "daily_budget", label: "Daily budget", type: "number", parse: Number, col: "col-md-2", required: true },
      { name: "currency", label: "Currency", col: "col-md-2", help: "default: the salary's" },
    ],
    columns: [
      ["Name", (r) => r.name],
      ["Platforms", (r) => (r.platforms || []).join(", ")],
      ["Budget/day", (r) => `${fmtNumber(r.daily_budget, 2)} ${r.currency || ""}`],
      ["Status", (r) => [statusBadge(r.status), Object.values(r.publications || {}).some((x) => x?.sandbox) || r.sandbox ? h("span", { class: "badge text-bg-warning ms-1" }, "sandbox") : null]],
      ["Error", (r) => (r.error ? h("span", { class: "text-danger small" }, r.error.reason || r.error.message || String(r.error)) : "")],
      ["Actions", (r) => adActions(r, () => section.refresh())],
    ],
  });
  ctx.timers.push(setInterval(() => !document.hidden && section.refresh().catch(() => {}), 5000)); // publishing is asynchronous
  root.append(await adAccounts(), section, card("Performance", h("div", {}, h("div", { class: "chart-box" }, perf), perfTable)));
  const campaigns = await listAll(ws("/ads/campaigns")).catch(() => []);
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

function adActions(r, refresh) {
  const out = h("div", { class: "d-flex gap-1" });
  const btn = (label, iconName, path, colour) => {
    const b = editable(h("button", { class: `btn btn-sm btn-outline-${colour}`, type: "button" }, icon(iconName), label));
    b.addEventListener("click", () => act(b, () => post(ws(`/ads/campaigns/${encodeURIComponent(r.id)}/${path}`), {}), { done: `${label}: done` }).then(refresh));
    return b;
  };
  if (["draft", "failed"].includes(r.status)) out.append(btn("Publish", "play", "publish", "success"));
  if (r.status === "paused") out.append(btn("Resume", "play", "resume", "success"));
  if (["active", "scheduled", "publishing"].includes(r.status)) out.append(btn("Pause", "pause", "pause", "warning"));
  if (!["archived", "draft"].includes(r.status)) out.append(btn("Archive", "archive", "archive", "secondary"));
  return out;
}

function openingStatus(r) {
  if (!canEdit()) return statusBadge(r.status);
  const sel = h("select", { class: "form-select form-select-sm", "aria-label": "Status" }, ["draft", "open", "closed", "archived"].map((x) => h("option", { value: x }, x)));
  sel.value = r.status;
  sel.addEventListener("change", () => act(sel, () => patch(ws(`/jobs/openings/${encodeURIComponent(r.id)}`), { status: sel.value }), { done: `Opening ${sel.value}` }));
  return sel;
}

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
  const accounts = await get(ws("/ads/accounts")).catch(() => []);
  const rows = (Array.isArray(accounts) ? accounts : accounts.items || []).map((a) => {
    const forms = h("div");
    if (isOwner()) {
      const inputs = AD_FIELDS[a.platform].map(([name, label, type]) => h("input", { class: "form-control form-control-sm", name, type: type || "text", placeholder: label, "aria-label": label, autocomplete: "off" }));
      const save = h("button", { class: "btn btn-sm btn-outline-primary", type: "submit" }, icon("key"), a.connected ? "Replace" : "Connect");
      const form = h("form", { class: "d-flex gap-1 flex-wrap" }, inputs, save);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const body = Object.fromEntries(inputs.filter((i) => i.value.trim()).map((i) => [i.name, i.value.trim()]));
        const r = await act(save, () => put(ws(`/ads/accounts/${a.platform}`), body), { errorBox, done: `${a.platform} connected` });
        if (r) inputs.forEach((i) => (i.value = ""));
      });
      forms.append(form);
    }
    return h(
      "tr",
      { dataset: { platform: a.platform } },
      h("td", {}, a.platform === "meta" ? "Meta" : "Google Ads"),
      h("td", {}, a.connected ? h("span", { class: "badge text-bg-success" }, `connected ${a.account_id || ""}`) : session.sandbox ? h("span", { class: "badge text-bg-warning" }, "sandbox: recorded, not published") : h("span", { class: "badge text-bg-secondary" }, "not connected")),
      h("td", {}, forms),
    );
  });
  return card("Ad accounts", h("div", {}, errorBox, table(["Platform", "State", isOwner() ? "Credentials (kept in the secrets store)" : ""], rows)));
}
