// Email: the tabs (campaigns, contacts, templates, SMTP settings) and what they share:
// the API paths, the CSV column guess, the import report and the sandboxed HTML preview.
// Each tab is a module of its own (email_*.js).
import { ws } from "../api.js";
import { fmtNumber, h, icon, table } from "../dom.js";
import { pageHeader, viewerNotice } from "../ui.js";

const TABS = [
  ["campaigns", "Campaigns", "send"],
  ["contacts", "Contacts", "people"],
  ["templates", "Templates", "file-earmark-richtext"],
  ["smtp", "SMTP settings", "hdd-network"],
  ["deliverability", "Deliverability", "shield-check"],
];

export const P = {
  settings: () => ws("/smtp"),
  presets: () => ws("/smtp/presets"),
  test: () => ws("/smtp/test"),
  contacts: () => ws("/contacts"),
  contact: (id) => ws(`/contacts/${encodeURIComponent(id)}`),
  imports: (listId) => ws(`/lists/${encodeURIComponent(listId)}/import`),
  importStatus: (id) => ws(`/imports/${encodeURIComponent(id)}`),
  lists: () => ws("/lists"),
  templates: () => ws("/email/templates"),
  template: (id) => ws(`/email/templates/${encodeURIComponent(id)}`),
  campaigns: () => ws("/email/campaigns"),
  campaign: (id) => ws(`/email/campaigns/${encodeURIComponent(id)}`),
  metrics: (id) => ws(`/email/campaigns/${encodeURIComponent(id)}/metrics`),
};

// Template variables Herald fills in every message, besides the contact's own fields.
export const VARIABLES = [
  ["{{ first_name }}", "the contact's first name (last_name, email too)"],
  ["{{ company }}", "any column imported as a field, by its name"],
  ["{{ first_name | default('there') }}", "a value when the contact has none"],
  ["{{ unsubscribe_url }}", "the recipient's one-click unsubscribe link"],
  ["{{ postal_address }}", "the sender's postal address (SMTP settings)"],
];

const KNOWN_COLUMNS = ["email", "first_name", "last_name", "timezone"];

/** The column mapping the import route takes, guessed from a CSV header line. */
export function guessMapping(headerLine) {
  const cols = headerLine.replace(/^\uFEFF/, "").split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, "")).filter(Boolean);
  const norm = (c) => c.toLowerCase().replace(/[\s-]+/g, "_");
  const mapping = { fields: {} };
  for (const c of cols) {
    const n = norm(c);
    const alias = { e_mail: "email", email_address: "email", firstname: "first_name", lastname: "last_name", tz: "timezone", time_zone: "timezone" }[n] || n;
    if (KNOWN_COLUMNS.includes(alias) && !mapping[alias]) mapping[alias] = c;
    else mapping.fields[n] = c;
  }
  return mapping;
}

/** The validation report of a contact or candidate import:
 * {total_rows, imported, rejected: {reason: count}, report: [{row, reason, email | value}]} */
export function importReport(r) {
  const rejected = r.rejected && typeof r.rejected === "object" ? r.rejected : {};
  const rejectedTotal = Object.values(rejected).reduce((a, b) => a + Number(b || 0), 0);
  const rows = r.report || [];
  return h(
    "div",
    { class: "import-report", id: "import-report" },
    h(
      "div",
      { class: "d-flex gap-2 flex-wrap mb-2" },
      h("span", { class: "badge text-bg-secondary fs-6", dataset: { count: "rows" } }, `Rows: ${fmtNumber(r.total_rows)}`),
      r.status === "importing"
        ? h("span", { class: "badge text-bg-info fs-6", dataset: { count: "importing" } }, `Importing in the background: ${fmtNumber(r.accepted)}`)
        : h("span", { class: "badge text-bg-success fs-6", dataset: { count: "imported" } }, `Imported: ${fmtNumber(r.imported)}`),
      h("span", { class: `badge fs-6 ${rejectedTotal ? "text-bg-danger" : "text-bg-secondary"}`, dataset: { count: "rejected" } }, `Rejected: ${fmtNumber(rejectedTotal)}`),
    ),
    Object.keys(rejected).length ? h("ul", { class: "small mb-2" }, Object.entries(rejected).map(([reason, n]) => h("li", {}, `${reason}: ${fmtNumber(n)}`))) : h("div", { class: "text-success small" }, icon("check2-all"), " Every row was valid."),
    rows.length ? table(["Row", "Value", "Problem"], rows.map((x) => h("tr", {}, h("td", {}, String(x.row ?? "")), h("td", { class: "wrap" }, x.email ?? x.value ?? ""), h("td", { class: "reason" }, x.reason ?? "")))) : null,
    r.report_truncated ? h("div", { class: "small text-body-secondary" }, "Only the first rejected rows are listed.") : null,
  );
}

/** The HTML part in an iframe sandboxed without any allow-* token. */
export function htmlPreview(html, id = "email-html-preview") {
  // Sandboxed with no allow-* tokens: no scripts, no forms, no same-origin access. The
  // page's CSP is inherited by srcdoc documents, so even inline handlers cannot run.
  const frame = h("iframe", { class: "email-preview", sandbox: "", title: "HTML preview of the email", id, referrerpolicy: "no-referrer" });
  frame.srcdoc = html; // sandboxed preview
  return frame;
}

const TAB_MODULES = {
  campaigns: () => import("./email_compose.js"),
  campaign: () => import("./email_campaign.js"),
  contacts: () => import("./email_contacts.js"),
  templates: () => import("./email_templates.js"),
  smtp: () => import("./email_smtp.js"),
  deliverability: () => import("./deliverability.js"),
};

export async function render(root, ctx) {
  const tab = TAB_MODULES[ctx.rest[0]] ? ctx.rest[0] : "campaigns";
  const nav = h(
    "ul",
    { class: "nav nav-tabs mb-3" },
    TABS.map(([id, label, i]) => {
      const active = tab === id || (tab === "campaign" && id === "campaigns");
      return h("li", { class: "nav-item" }, h("a", { class: `nav-link${active ? " active" : ""}`, href: `#/email/${id}`, id: `tab-${id}`, "aria-current": active ? "page" : null }, icon(i), label));
    }),
  );
  root.append(pageHeader("Email"), viewerNotice(), nav);
  const body = h("div");
  root.append(body);
  const mod = await TAB_MODULES[tab]();
  return mod.render(body, ctx, ctx.rest[1]);
}
