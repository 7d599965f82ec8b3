// Email: SMTP settings with a test send, contact import with its validation report, the
// campaign composer (HTML preview in a sandboxed iframe, text part), scheduling, live
// progress (every 2 s) and analytics.
import { canEdit, isOwner, get, list, listAll, post, put, request, session, ws } from "../api.js";
import { chart, destroyCharts, palette } from "../charts.js";
import { card, clear, field, fmtDate, fmtNumber, fmtPct, h, icon, statusBadge, table } from "../dom.js";
import { timeZones, utcToZoned, zonedToUtc } from "../time.js";
import { act, editable, lockForViewer, pageHeader, showError, toast, viewerNotice } from "../ui.js";

const TABS = [
  ["campaigns", "Campaigns", "send"],
  ["contacts", "Contacts", "people"],
  ["smtp", "SMTP settings", "hdd-network"],
  ["deliverability", "Deliverability", "shield-check"],
];

export const P = {
  settings: () => ws("/smtp"),
  presets: () => ws("/smtp/presets"),
  test: () => ws("/smtp/test"),
  contacts: () => ws("/contacts"),
  imports: (listId) => ws(`/lists/${encodeURIComponent(listId)}/import`),
  lists: () => ws("/lists"),
  campaigns: () => ws("/email/campaigns"),
  campaign: (id) => ws(`/email/campaigns/${encodeURIComponent(id)}`),
  metrics: (id) => ws(`/email/campaigns/${encodeURIComponent(id)}/metrics`),
};

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

export async function render(root, ctx) {
  const tab = ctx.rest[0] || "campaigns";
  const nav = h(
    "ul",
    { class: "nav nav-tabs mb-3" },
    TABS.map(([id, label, i]) => h("li", { class: "nav-item" }, h("a", { class: `nav-link${tab === id || (tab === "campaign" && id === "campaigns") ? " active" : ""}`, href: `#/email/${id}`, id: `tab-${id}` }, icon(i), label))),
  );
  root.append(pageHeader("Email"), viewerNotice(), nav);
  const body = h("div");
  root.append(body);
  if (tab === "smtp") return renderSmtp(body);
  if (tab === "deliverability") return (await import("./deliverability.js")).render(body);
  if (tab === "contacts") return renderContacts(body);
  if (tab === "campaign" && ctx.rest[1]) return renderCampaign(body, ctx, ctx.rest[1]);
  return renderCampaigns(body, ctx);
}

// -- SMTP -------------------------------------------------------------------------------

function ownerOnly(el) {
  if (!isOwner()) {
    if (el.tagName === "FIELDSET") {
      el.disabled = true;
      el.dataset.readonly = "1";
    } else el.classList.add("d-none");
  }
  return el;
}

async function renderSmtp(root) {
  const errorBox = h("div");
  const [current, presets] = await Promise.all([get(P.settings()), get(P.presets()).then((r) => (Array.isArray(r) ? r : r?.items || [])).catch(() => [])]);
  const input = (name, type = "text", value = "") => h("input", { class: "form-control", name, id: `smtp-${name}`, type, value: value ?? "" });
  const c = current || {};
  const f = {
    host: input("host", "text", c.host),
    port: input("port", "number", c.port || 587),
    username: input("username", "text", c.username),
    password: h("input", { class: "form-control", name: "password", id: "smtp-password", type: "password", autocomplete: "new-password", placeholder: c.password_set ? "•••••••• (stored; leave empty to keep)" : "" }),
    from_name: input("from_name", "text", c.from_name),
    from_address: input("from_address", "email", c.from_address),
    reply_to: input("reply_to", "email", c.reply_to),
    daily_quota: input("daily_quota", "number", c.daily_quota || 2000),
    per_minute_rate: input("per_minute_rate", "number", c.per_minute_rate || 60),
  };
  const security = h("select", { class: "form-select", id: "smtp-security" }, ["starttls", "ssl", "none"].map((s) => h("option", { value: s }, s)));
  security.value = c.security || "starttls";
  let preset = c.preset || null;
  const presetSel = h("select", { class: "form-select", id: "smtp-preset" }, h("option", { value: "" }, "— custom —"), presets.map((p) => h("option", { value: p.id }, p.label + (p.sandbox ? " [sandbox]" : ""))));
  presetSel.value = preset || "";
  const sandboxNote = h("div", { class: "alert alert-warning py-2 d-none", id: "smtp-sandbox" }, icon("cone-striped"), " Sandbox: messages go to the local SMTP sink, nothing leaves this machine.");
  const syncSandbox = () => sandboxNote.classList.toggle("d-none", !(presets.find((p) => p.id === presetSel.value)?.sandbox || c.sandbox));
  presetSel.addEventListener("change", () => {
    const p = presets.find((x) => x.id === presetSel.value);
    preset = p ? p.id : null;
    if (p) {
      for (const k of ["host", "port", "username", "from_name", "from_address", "daily_quota", "per_minute_rate"]) if (p[k] !== undefined && p[k] !== null) f[k].value = p[k];
      security.value = p.security || security.value;
    }
    syncSandbox();
  });
  syncSandbox();
  const status = h("div", { class: "mb-3" }, current?.configured ? h("span", { class: "badge text-bg-success" }, "configured") : h("span", { class: "badge text-bg-secondary" }, "not saved yet"));
  // SMTP credentials are the owner's business (the API requires the owner role).
  const save = ownerOnly(h("button", { class: "btn btn-primary", type: "submit", id: "smtp-save" }, icon("save"), "Save"));
  const form = h(
    "form",
    { id: "smtp-form", novalidate: true },
    ownerOnly(
      h(
        "fieldset",
        {},
        status,
        sandboxNote,
        field("Provider preset", presetSel),
        h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Host", f.host)), h("div", { class: "col-md-3" }, field("Port", f.port)), h("div", { class: "col-md-3" }, field("Security", security))),
        h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Username", f.username)), h("div", { class: "col-md-6" }, field("Password", f.password, "Stored encrypted in the secrets store, never shown again."))),
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("From name", f.from_name)), h("div", { class: "col-md-4" }, field("From address", f.from_address)), h("div", { class: "col-md-4" }, field("Reply-To", f.reply_to))),
        h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Daily quota", f.daily_quota)), h("div", { class: "col-md-6" }, field("Messages per minute", f.per_minute_rate))),
        save,
      ),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const bodyData = {
      preset,
      host: f.host.value.trim(),
      port: Number(f.port.value),
      security: security.value,
      username: f.username.value.trim(),
      from_name: f.from_name.value.trim(),
      from_address: f.from_address.value.trim(),
      reply_to: f.reply_to.value.trim() || null,
      daily_quota: Number(f.daily_quota.value),
      per_minute_rate: Number(f.per_minute_rate.value),
    };
    if (f.password.value) bodyData.password = f.password.value;
    act(save, () => put(P.settings(), bodyData), { errorBox, done: "SMTP settings saved" }).then((saved) => {
      if (saved) {
        f.password.value = "";
        clear(status).append(h("span", { class: "badge text-bg-success" }, "configured"));
      }
    });
  });
  const testTo = h("input", { class: "form-control", type: "email", id: "smtp-test-to", placeholder: "you@example.com" });
  const testBtn = ownerOnly(h("button", { class: "btn btn-outline-info", type: "button", id: "smtp-test" }, icon("envelope-check"), "Send a test message"));
  const testResult = h("div", { class: "mt-2", id: "smtp-test-result" });
  testBtn.addEventListener("click", async () => {
    clear(testResult);
    const r = await act(testBtn, () => post(P.test(), { to: testTo.value.trim() }), { errorBox: testResult });
    if (r) testResult.append(h("div", { class: "alert alert-success py-2" }, icon("check2"), ` Test message accepted by ${r.host || "the server"}${r.message_id ? ` (${r.message_id})` : ""}.`));
  });
  root.append(errorBox, card("SMTP server", form));
  if (isOwner()) root.append(card("Test", h("div", {}, h("div", { class: "input-group" }, testTo, testBtn), testResult)));
  else root.append(h("p", { class: "small text-body-secondary" }, "Only owners change SMTP settings."));
}

// -- contacts ---------------------------------------------------------------------------

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

async function renderContacts(root) {
  const errorBox = h("div");
  const listsBox = h("div", { id: "contact-lists" });
  const contactsBox = h("div", { id: "contacts-table" });
  const reportBox = h("div");
  const refresh = async () => {
    const lists = await listAll(P.lists()).catch(() => []);
    clear(listsBox).append(table(["List", "Contacts", "Created"], lists.map((l) => h("tr", {}, h("td", {}, l.name), h("td", {}, fmtNumber(l.count ?? l.contact_count ?? l.size)), h("td", { class: "small" }, fmtDate(l.created_at)))), "No lists yet: import a file."));
    const keep = listSel.value;
    clear(listSel).append(h("option", { value: "" }, "— a new list named below —"), lists.map((l) => h("option", { value: l.id }, l.name)));
    listSel.value = keep;
    const page = await list(P.contacts(), { limit: 50 });
    const listNames = new Map(lists.map((l) => [l.id, l.name]));
    clear(contactsBox).append(
      table(
        ["Email", "Name", "Timezone", "Lists"],
        page.items.map((c) => h("tr", {}, h("td", {}, c.email), h("td", {}, [c.first_name, c.last_name].filter(Boolean).join(" ")), h("td", { class: "small" }, c.timezone || ""), h("td", { class: "small" }, (c.list_ids || []).map((id) => listNames.get(id) || id).join(", ")))),
      ),
      h("div", { class: "small text-body-secondary" }, page.next_cursor ? "Showing the first 50." : ""),
    );
    return lists;
  };
  const file = h("input", { class: "form-control", type: "file", id: "contacts-file", accept: ".csv,.xlsx,text/csv" });
  const mappingBox = h("div", { class: "small text-body-secondary mb-3", id: "contacts-mapping" });
  let mapping = null;
  file.addEventListener("change", async () => {
    mapping = null;
    clear(mappingBox);
    const f = file.files[0];
    if (!f || !/\.csv$/i.test(f.name)) return;
    const head = (await f.slice(0, 8192).text()).split(/\r?\n/)[0] || "";
    mapping = guessMapping(head);
    if (!mapping.email) {
      mappingBox.append(h("span", { class: "text-danger" }, "No email column found in the header row."));
      return;
    }
    const extra = Object.values(mapping.fields);
    mappingBox.append(`Columns: email ← “${mapping.email}”`, ...["first_name", "last_name", "timezone"].filter((k) => mapping[k]).map((k) => `, ${k} ← “${mapping[k]}”`), extra.length ? `; also kept: ${extra.join(", ")}` : "");
  });
  const listSel = h("select", { class: "form-select", id: "contacts-list-id" });
  const listName = h("input", { class: "form-control", id: "contacts-list", placeholder: "e.g. Newsletter" });
  const upload = editable(h("button", { class: "btn btn-primary", type: "submit", id: "contacts-import" }, icon("upload"), "Import"));
  const form = h(
    "form",
    { id: "contacts-form" },
    lockForViewer(h("fieldset", {}, field("CSV or Excel file", file, "A header row with at least an email column; first_name, last_name, timezone and other columns become contact fields."), mappingBox, h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Add to list", listSel)), h("div", { class: "col-md-6" }, field("New list name", listName))), upload)),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(reportBox);
    if (!file.files[0]) {
      showError(reportBox, new Error("Choose a CSV or Excel file first."));
      return;
    }
    if (!listSel.value && !listName.value.trim()) {
      showError(reportBox, new Error("Choose a list or name a new one."));
      return;
    }
    const report = await act(
      upload,
      async () => {
        let listId = listSel.value;
        if (!listId) listId = (await post(P.lists(), { name: listName.value.trim() })).id;
        const fd = new FormData();
        fd.append("file", file.files[0]);
        if (mapping) fd.append("mapping", JSON.stringify(mapping));
        return request("POST", P.imports(listId), fd);
      },
      { errorBox: reportBox },
    );
    if (report) {
      reportBox.append(card("Validation report", importReport(report)));
      toast(report.status === "importing" ? "Import running in the background" : "Contacts imported");
      await refresh();
    }
  });
  root.append(errorBox, card("Import contacts", h("div", {}, form, reportBox)), h("div", { class: "row g-3" }, h("div", { class: "col-lg-4" }, card("Lists", listsBox)), h("div", { class: "col-lg-8" }, card("Contacts", contactsBox))));
  await refresh();
}

// -- campaigns --------------------------------------------------------------------------

function htmlPreview(html) {
  // Sandboxed with no allow-* tokens: no scripts, no forms, no same-origin access. The
  // page's CSP is inherited by srcdoc documents, so even inline handlers cannot run.
  const frame = h("iframe", { class: "email-preview", sandbox: "", title: "HTML preview", id: "email-html-preview", referrerpolicy: "no-referrer" });
  frame.srcdoc = html; // sandboxed preview
  return frame;
}

async function renderCampaigns(root, ctx) {
  const errorBox = h("div");
  const lists = await listAll(P.lists()).catch(() => []);
  const listBox = h("div", { id: "email-campaigns" });
  const refresh = async () => {
    const items = await listAll(P.campaigns());
    clear(listBox).append(
      table(
        ["Name", "Subject", "Status", "Scheduled", "Progress"],
        items.map((c) => {
          const p = c.progress || c;
          const total = Number(p.total ?? p.recipients ?? 0);
          const done = Number(p.sent ?? 0) + Number(p.failed ?? 0);
          return h(
            "tr",
            { dataset: { id: c.id } },
            h("td", {}, h("a", { href: `#/email/campaign/${encodeURIComponent(c.id)}`, class: "email-campaign-link" }, c.name)),
            h("td", { class: "wrap" }, c.subject || ""),
            h("td", {}, statusBadge(c.status)),
            h("td", { class: "small" }, fmtDate(c.scheduled_at || c.send_at, session.workspace?.timezone)),
            h("td", { class: "small" }, total ? `${fmtNumber(done)} / ${fmtNumber(total)}` : "–"),
          );
        }),
        "No email campaigns yet.",
      ),
    );
  };

  // Composer
  const name = h("input", { class: "form-control", id: "email-name", maxlength: 120 });
  const subject = h("input", { class: "form-control", id: "email-subject", maxlength: 200 });
  const listSel = h("select", { class: "form-select", id: "email-list" }, h("option", { value: "" }, "— choose a list —"), lists.map((l) => h("option", { value: l.id }, l.count === undefined ? l.name : `${l.name} (${fmtNumber(l.count)})`)));
  const html = h("textarea", { class: "form-control font-monospace", id: "email-html", rows: 12, spellcheck: "false" });
  html.value = "<h1>Hello {{ first_name }}</h1>\n<p>Write your message here.</p>\n<p><a href=\"https://example.com\">Read more</a></p>";
  const text = h("textarea", { class: "form-control font-monospace", id: "email-text", rows: 6 });
  text.value = "Hello {{ first_name }},\n\nWrite your message here.\n\nRead more: https://example.com";
  const previewBox = h("div", { id: "email-preview-box" });
  const textBox = h("div", { class: "text-part border rounded p-2", id: "email-text-preview" });
  const drawPreview = () => {
    clear(previewBox).append(htmlPreview(html.value));
    textBox.textContent = text.value;
  };
  let timer = null;
  html.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(drawPreview, 250);
  });
  text.addEventListener("input", () => (textBox.textContent = text.value));
  const tz = h("select", { class: "form-select", id: "email-tz" }, timeZones().map((z) => h("option", { value: z }, z)));
  tz.value = session.workspace?.timezone || "UTC";
  const when = h("input", { class: "form-control", type: "datetime-local", id: "email-at", value: utcToZoned(new Date(Date.now() + 3600_000), tz.value) });
  const saveBtn = editable(h("button", { class: "btn btn-outline-secondary", type: "button", id: "email-save" }, icon("save"), "Save draft"));
  const scheduleBtn = editable(h("button", { class: "btn btn-outline-primary", type: "button", id: "email-schedule" }, icon("calendar-check"), "Schedule"));
  const sendBtn = editable(h("button", { class: "btn btn-primary", type: "button", id: "email-send" }, icon("send"), "Send now"));
  const trackOpens = h("input", { class: "form-check-input", type: "checkbox", id: "email-track-opens", checked: true });
  const trackClicks = h("input", { class: "form-check-input", type: "checkbox", id: "email-track-clicks", checked: true });
  const payload = () => ({ name: name.value.trim(), subject: subject.value.trim(), list_id: listSel.value || null, html: html.value, text: text.value, track_opens: trackOpens.checked, track_clicks: trackClicks.checked });
  const create = async (mode, button) => {
    const c = await act(
      button,
      async () => {
        const created = await post(P.campaigns(), payload());
        if (mode === "now") return post(`${P.campaign(created.id)}/schedule`, { at: new Date().toISOString(), timezone: tz.value });
        if (mode === "later") {
          const at = zonedToUtc(when.value, tz.value);
          if (!at) throw new Error("Pick the date and time to send.");
          return post(`${P.campaign(created.id)}/schedule`, { at: at.toISOString(), timezone: tz.value });
        }
        return created;
      },
      { errorBox },
    );
    if (c) {
      toast(mode === "now" ? "Sending started" : mode === "later" ? "Campaign scheduled" : "Draft saved");
      location.hash = `#/email/campaign/${encodeURIComponent(c.id)}`;
    }
  };
  saveBtn.addEventListener("click", () => create("draft", saveBtn));
  scheduleBtn.addEventListener("click", () => create("later", scheduleBtn));
  sendBtn.addEventListener("click", () => create("now", sendBtn));

  const composer = lockForViewer(
    h(
      "fieldset",
      { id: "email-composer" },
      h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Name", name)), h("div", { class: "col-md-5" }, field("Subject", subject)), h("div", { class: "col-md-3" }, field("Recipients", listSel))),
      h(
        "div",
        { class: "row g-3" },
        h("div", { class: "col-lg-6" }, field("HTML part", html, "Placeholders such as {{ first_name }} are filled per contact. Links are tracked; an unsubscribe link is added.")),
        h("div", { class: "col-lg-6" }, h("div", { class: "form-label" }, "HTML preview (sandboxed, scripts off)"), previewBox),
      ),
      h("div", { class: "row g-3" }, h("div", { class: "col-lg-6" }, field("Text part", text, "Leave empty to derive it from the HTML.")), h("div", { class: "col-lg-6" }, h("div", { class: "form-label" }, "Text preview"), textBox)),
      h("div", { class: "mb-3" }, h("div", { class: "form-check form-check-inline" }, trackOpens, h("label", { class: "form-check-label", for: "email-track-opens" }, "Track opens")), h("div", { class: "form-check form-check-inline" }, trackClicks, h("label", { class: "form-check-label", for: "email-track-clicks" }, "Track clicks"))),
      h("div", { class: "row align-items-end" }, h("div", { class: "col-md-4" }, field("Send at", when)), h("div", { class: "col-md-4" }, field("Timezone", tz)), h("div", { class: "col-md-4 mb-3 d-flex gap-2 flex-wrap text-nowrap" }, saveBtn, scheduleBtn, sendBtn)),
    ),
  );
  root.append(errorBox, card("New email campaign", composer), card("Campaigns", listBox));
  drawPreview();
  await ctx.every(refresh, 5000);
}

async function renderCampaign(root, ctx, id) {
  const c = await get(P.campaign(id));
  const errorBox = h("div");
  const title = h("h2", { class: "h4 mb-0 me-auto", id: "email-campaign-name" });
  title.textContent = c.name;
  const statusBox = h("span", { id: "email-status" });
  const bar = h("div", { class: "progress-bar progress-bar-striped w-pct-0", id: "email-progress-bar" });
  const progress = h("div", { class: "progress progress-lg", role: "progressbar", "aria-label": "Sending progress", id: "email-progress" }, bar);
  const pctText = h("div", { class: "fs-4 fw-semibold", id: "email-progress-pct" }, "0 %");
  const countsText = h("div", { class: "small text-body-secondary", id: "email-progress-counts" });
  const doughnut = h("canvas", { id: "email-doughnut", role: "img", "aria-label": "Sent, failed, pending" });
  const bars = h("canvas", { id: "email-status-bars", role: "img", "aria-label": "Delivery status" });
  const rates = h("div", { class: "row text-center", id: "email-rates" });
  const actions = h("div", { class: "d-flex gap-2" });
  ctx.onLeave(() => destroyCharts(root));
  const previewFrame = htmlPreview(c.html || "");
  root.append(
    h("div", { class: "d-flex align-items-center gap-2 mb-3" }, h("a", { href: "#/email/campaigns", class: "btn btn-sm btn-outline-secondary" }, icon("arrow-left"), "Campaigns"), title, statusBox, actions),
    errorBox,
    h("div", { class: "row g-3" }, h("div", { class: "col-lg-8" }, card("Progress", h("div", {}, h("div", { class: "d-flex align-items-end gap-3 mb-2" }, pctText, countsText), progress))), h("div", { class: "col-lg-4" }, card("Open and click rates", rates))),
    h("div", { class: "row g-3" }, h("div", { class: "col-lg-4" }, card("Sent / failed / pending", h("div", { class: "chart-box" }, doughnut))), h("div", { class: "col-lg-8" }, card("Delivery status", h("div", { class: "chart-box" }, bars)))),
    card("Message", h("div", {}, h("div", { class: "mb-2" }, h("strong", {}, "Subject: "), c.subject || ""), previewFrame)),
  );

  const drawActions = (data) => {
    clear(actions);
    const action = (label, iconName, verb, colour, body) => {
      const b = editable(h("button", { class: `btn btn-sm btn-${colour}`, type: "button", id: `email-${verb}` }, icon(iconName), label));
      b.addEventListener("click", () => act(b, () => post(`${P.campaign(id)}/${verb}`, body), { errorBox, done: `${label}: done` }).then(tick));
      return b;
    };
    const now = () => ({ at: new Date().toISOString(), timezone: session.workspace?.timezone || "UTC" });
    if (["draft", "scheduled"].includes(data.status)) {
      const send = editable(h("button", { class: "btn btn-primary btn-sm", type: "button", id: "email-send-now" }, icon("send"), "Send now"));
      send.addEventListener("click", () => act(send, () => post(`${P.campaign(id)}/schedule`, now()), { errorBox, done: "Sending started" }).then(tick));
      actions.append(send);
    }
    if (data.status === "scheduled") actions.append(action("Back to draft", "arrow-counterclockwise", "unschedule", "outline-secondary"));
    if (data.status === "sending") actions.append(action("Pause", "pause", "pause", "outline-warning"));
    if (data.status === "paused") actions.append(action("Resume", "play", "resume", "outline-success"));
    if (["scheduled", "sending", "paused"].includes(data.status)) actions.append(action("Cancel", "x-circle", "cancel", "outline-danger"));
    if (data.status === "done" && Number(data.failed || 0) > 0) actions.append(action("Resend failed", "arrow-repeat", "resend-failed", "outline-warning"));
  };

  // Per-recipient outcomes (SMTP code and text), a page at a time.
  const recipientsBox = h("div", { id: "email-recipients" });
  const recipientFilter = h("select", { class: "form-select form-select-sm w-auto", "aria-label": "Outcome" }, ["", "sent", "failed", "deferred", "suppressed", "pending"].map((x) => h("option", { value: x }, x || "every outcome")));
  const loadRecipients = async () => {
    const page = await list(`${P.campaign(id)}/recipients`, { status: recipientFilter.value, limit: 5 }).catch((exc) => ({ items: [], error: exc }));
    clear(recipientsBox).append(
      table(
        ["Recipient", "Outcome", "SMTP", "When"],
        page.items.slice(0, 100).map((r) => h("tr", {}, h("td", {}, r.email), h("td", {}, statusBadge(r.status)), h("td", { class: `small ${["failed", "deferred", "unconfirmed"].includes(r.status) ? "reason" : "text-body-secondary"}` }, [r.code, r.text || r.reason].filter(Boolean).join(" ")), h("td", { class: "small" }, fmtDate(r.at || r.sent_at, session.workspace?.timezone)))),
        page.error ? page.error.message : "No recipient yet.",
      ),
    );
  };
  recipientFilter.addEventListener("change", loadRecipients);
  const testTo = h("input", { class: "form-control form-control-sm", type: "email", id: "email-test-to", placeholder: "you@example.com" });
  const testBtn = editable(h("button", { class: "btn btn-sm btn-outline-info", type: "button" }, icon("envelope-check"), "Send me a test"));
  testBtn.addEventListener("click", () => act(testBtn, () => post(`${P.campaign(id)}/test`, { to: testTo.value.trim() }), { errorBox, done: "Test message sent ([TEST] in the subject)" }));
  root.append(
    card("Recipients", h("div", {}, h("div", { class: "mb-2" }, recipientFilter), recipientsBox), h("button", { class: "btn btn-sm btn-outline-secondary", type: "button", onclick: loadRecipients }, icon("arrow-clockwise"), "Refresh")),
    canEdit() ? card("Test", h("div", { class: "input-group" }, testTo, testBtn)) : h("span"),
  );
  loadRecipients();

  let lastStatus = null;
  let stats = null;
  let statsAt = 0;
  async function tick() {
    // Progress every 2 s (one document read); engagement rollups less often.
    const data = await get(`${P.campaign(id)}/progress`);
    const p = data;
    if (!stats || Date.now() - statsAt > 10_000) {
      stats = await get(P.metrics(id)).catch(() => stats);
      statsAt = Date.now();
    }
    const total = Number(p.total ?? p.recipients ?? 0);
    const sent = Number(p.sent ?? 0);
    const failed = Number(p.failed ?? 0);
    const pending = Number(p.pending ?? Math.max(0, total - sent - failed));
    // Finished = every recipient reached a terminal state (sent, failed, suppressed, …).
    const finished = total - pending - Number(p.deferred || 0);
    const pct = total ? Math.floor((finished * 100) / total) : ["sent", "done", "completed"].includes(data.status) ? 100 : 0;
    bar.style.width = `${pct}%`;
    bar.classList.toggle("progress-bar-animated", pct < 100 && data.status === "sending");
    bar.classList.toggle("bg-success", pct === 100);
    pctText.textContent = `${pct} %`;
    progress.dataset.pct = String(pct);
    progress.setAttribute("aria-valuenow", String(pct));
    countsText.textContent = `${fmtNumber(sent)} sent · ${fmtNumber(failed)} failed · ${fmtNumber(pending)} pending of ${fmtNumber(total)} recipients`;
    if (data.status !== lastStatus) {
      clear(statusBox).append(statusBadge(data.status));
      drawActions(data);
      if (lastStatus !== null) loadRecipients();
      lastStatus = data.status;
    }
    chart(doughnut, {
      type: "doughnut",
      data: { labels: ["sent", "failed", "pending"], datasets: [{ data: [sent, failed, pending], backgroundColor: [palette(1), palette(2), palette(7)] }] },
      options: { plugins: { legend: { position: "bottom" } } },
    });
    const delivery = Object.fromEntries(["sent", "deferred", "failed", "suppressed", "unconfirmed", "cancelled"].map((k) => [k, Number(p[k] || 0)]));
    const labels = Object.keys(delivery);
    chart(bars, {
      type: "bar",
      data: { labels, datasets: [{ label: "messages", data: labels.map((k) => delivery[k]), backgroundColor: labels.map((k, i) => (/fail|bounce|reject|unconfirmed/.test(k) ? palette(2) : k === "sent" ? palette(1) : palette(i + 3))) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    const e = stats || {};
    const rate = (n) => (sent ? Number(n || 0) / sent : 0);
    clear(rates).append(
      h("div", { class: "col-6" }, h("div", { class: "small text-body-secondary" }, "Open rate"), h("div", { class: "fs-3", id: "open-rate" }, fmtPct(e.open_rate ?? rate(e.unique_opens ?? e.opens))), h("div", { class: "small" }, `${fmtNumber(e.unique_opens ?? e.opens ?? 0)} opened`)),
      h("div", { class: "col-6" }, h("div", { class: "small text-body-secondary" }, "Click rate"), h("div", { class: "fs-3", id: "click-rate" }, fmtPct(e.click_rate ?? rate(e.unique_clicks ?? e.clicks))), h("div", { class: "small" }, `${fmtNumber(e.unique_clicks ?? e.clicks ?? 0)} clicked`)),
      h("div", { class: "col-12 small text-body-secondary mt-2", id: "machine-engagement" }, `Opens are approximate: many mail apps block or pre-load images. Not counted above: ${fmtNumber(e.machine_opens ?? 0)} opens and ${fmtNumber(e.machine_clicks ?? 0)} clicks by machines (Apple Mail Privacy Protection, link scanners).`),
    );
  }
  await ctx.every(tick, 2000);
}
