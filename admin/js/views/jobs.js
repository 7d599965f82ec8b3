// Job ads: openings, candidates (import with its report), segments; the ad campaigns
// and their performance are jobs_ads.js.
import { canEdit, del, get, patch, post, request, session, ws } from "../api.js";
import { destroyCharts } from "../charts.js";
import { card, clear, field, fmtDate, fmtNumber, fmtPct, h, icon, selectDefault, statusBadge, table } from "../dom.js";
import { resourceSection } from "../resource.js";
import { importReport } from "./email.js";
import { act, confirmButton, editable, exportButton, lockForViewer, pageHeader, showError, toast, viewerNotice } from "../ui.js";

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
    h("ul", { class: "nav nav-tabs mb-3" }, TABS.map(([id, label, i]) => h("li", { class: "nav-item" }, h("a", { class: `nav-link${tab === id ? " active" : ""}`, href: `#/jobs/${id}`, id: `tab-${id}`, "aria-current": tab === id ? "page" : null }, icon(i), label)))),
  );
  const body = h("div");
  root.append(body);
  ctx.onLeave(() => destroyCharts(root));
  if (tab === "candidates") return candidates(body);
  if (tab === "segments") return segments(body);
  if (tab === "ads") return (await import("./jobs_ads.js")).render(body, ctx);
  return openings(body);
}

async function openings(root) {
  const errorBox = h("div", { id: "openings-errors" });
  root.append(
    errorBox,
    await resourceSection({
      id: "openings",
      title: "Openings",
      noun: "Opening",
      path: () => ws("/jobs/openings"),
      createLabel: "Create opening",
      empty: "No openings yet.",
      extra: exportButton("job_openings"),
      fields: [
        { name: "title", label: "Title", required: true },
        { name: "company", label: "Company", required: true },
        { name: "city", label: "City" },
        { name: "country", label: "Country (ISO code)", col: "col-md-2", help: "e.g. FR", required: true },
        { name: "salary_min", label: "Salary from", type: "number", col: "col-md-2", parse: Number },
        { name: "salary_max", label: "Salary to", type: "number", col: "col-md-2", parse: Number },
        { name: "salary_currency", label: "Currency", col: "col-md-2", value: "EUR", help: "ISO code, needed with a salary" },
        { name: "salary_period", label: "Per", col: "col-md-2", value: "year", options: () => ["year", "month", "week", "day", "hour"].map((x) => [x, x]) },
        { name: "apply_url", label: "Apply URL", type: "url", col: "col-md-6", required: true, placeholder: "https://…", help: "Where candidates apply (https)." },
        { name: "status", label: "Status", col: "col-md-2", value: "draft", options: () => ["draft", "open"].map((x) => [x, x]), help: "Ads publish only for open openings." },
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
        ["Status", (r) => openingStatus(r, errorBox)],
        ["", (r) => confirmButton("Delete", "Confirm delete", "danger", (b) => act(b, () => del(ws(`/jobs/openings/${encodeURIComponent(r.id)}`)), { errorBox, done: "Opening deleted" }).then(() => root.querySelector("#openings")?.refresh()))],
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
    extra: exportButton("candidates"),
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
      drawHistory();
    }
  });
  const history = h("div", { id: "candidate-imports" });
  const drawHistory = async () => {
    const page = await get(ws("/jobs/candidates/imports"), { limit: 10 }).catch(() => ({ items: [] }));
    clear(history).append(table(["File", "Rows", "Imported", "Rejected", "When"], (page.items || []).map((x) => h("tr", {}, h("td", { class: "wrap" }, x.filename || ""), h("td", {}, fmtNumber(x.total_rows)), h("td", {}, fmtNumber(x.imported)), h("td", {}, fmtNumber(Object.values(x.rejected || {}).reduce((a, b) => a + Number(b || 0), 0))), h("td", { class: "small" }, fmtDate(x.created_at, session.workspace?.timezone)))), "No import yet."));
  };
  root.append(card("Import candidates", h("div", {}, form, reportBox)), section, card("Past imports", history));
  await drawHistory();
}

/** A button that reads the whole segment (education, sources, what ad targeting can use). */
function segmentDetails(r) {
  const button = h("button", { class: "btn btn-sm btn-outline-secondary", type: "button", "aria-label": `Details of ${r.label}` }, icon("info-circle"), "Details");
  button.addEventListener("click", async () => {
    const seg = await act(button, () => get(ws(`/jobs/segments/${encodeURIComponent(r.id)}`)));
    if (!seg) return;
    const top = (list) => (list || []).map((x) => `${x.value} ${Math.round(x.share * 100)}%`).join(", ") || "–";
    button.replaceWith(
      h(
        "dl",
        { class: "small mb-0 segment-details" },
        h("dt", {}, "Education"), h("dd", {}, top(seg.profile?.top_education)),
        h("dt", {}, "Sources"), h("dd", {}, top(seg.profile?.top_sources)),
        h("dt", {}, "Ad keywords"), h("dd", {}, (seg.keywords || []).join(", ") || "–"),
        h("dt", {}, "Ad locations"), h("dd", {}, (seg.locations || []).join(", ") || "–"),
      ),
    );
  });
  return button;
}

async function segments(root) {
  const errorBox = h("div");
  const run = editable(h("button", { class: "btn btn-primary", type: "button", id: "segments-run" }, icon("diagram-3"), "Recompute segments"));
  const k = h("input", { class: "form-control", type: "number", min: 1, max: 20, id: "segments-k", placeholder: "automatic" });
  const section = await resourceSection({
    id: "segments",
    title: "Segments",
    extra: exportButton("segments"),
    path: () => ws("/jobs/segments"),
    empty: "No segments yet: import candidates, then recompute.",
    columns: [
      ["Segment", (r) => r.label],
      ["Candidates", (r) => `${fmtNumber(r.size)} (${fmtPct(r.share)})`],
      ["Experience", (r) => (r.profile?.median_years !== undefined && r.profile?.median_years !== null ? `median ${r.profile.median_years} y (${r.profile.p25_years}–${r.profile.p75_years})` : "")],
      ["Top skills", (r) => (r.profile?.top_skills || []).slice(0, 6).map((x) => `${x.value} ${Math.round(x.share * 100)}%`).join(", ")],
      ["Locations", (r) => (r.profile?.top_locations || []).slice(0, 4).map((x) => x.value).join(", ")],
      ["", segmentDetails],
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
    drawRuns();
  });
  const runs = h("div", { id: "segment-runs" });
  const drawRuns = async () => {
    const page = await get(ws("/jobs/segmentations"), { limit: 10 }).catch(() => ({ items: [] }));
    clear(runs).append(table(["Run", "Status", "Segments", "Candidates", "When"], (page.items || []).map((x) => h("tr", {}, h("td", { class: "small" }, x.id), h("td", {}, statusBadge(x.status), x.error ? h("div", { class: "small text-danger" }, x.error) : null), h("td", {}, x.k ?? x.k_requested ?? "auto"), h("td", {}, fmtNumber(x.candidate_count)), h("td", { class: "small" }, fmtDate(x.finished_at || x.created_at, session.workspace?.timezone)))), "No run yet."));
  };
  root.append(errorBox, card("Segmentation", h("div", { class: "d-flex gap-2 align-items-end" }, h("div", {}, field("Number of segments", k)), h("div", { class: "mb-3" }, run)), runState), section, card("Runs", runs));
  await drawRuns();
}

function openingStatus(r, errorBox) {
  if (!canEdit()) return statusBadge(r.status);
  const sel = selectDefault(h("select", { class: "form-select form-select-sm", "aria-label": `Status of ${r.title}` }, ["draft", "open", "closed", "archived"].map((x) => h("option", { value: x }, x))), r.status);
  sel.addEventListener("change", () => act(sel, () => patch(ws(`/jobs/openings/${encodeURIComponent(r.id)}`), { status: sel.value }), { errorBox, done: `Opening ${sel.value}` }));
  return sel;
}

