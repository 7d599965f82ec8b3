// Email deliverability: the DKIM key (generate, the DNS record to publish, on/off), the
// sending domain's pre-flight (SPF, DKIM, DMARC with advice), the reputation figures
// against Gmail's lines, the bounce mailbox, each provider's webhook URL and what
// verifies its calls, the soft-bounce limit and the warm-up plan.
import { get, isOwner, post, put, ws } from "../api.js";
import { card, clear, field, fmtDate, fmtNumber, h, icon, selectDefault, table } from "../dom.js";
import { act, editable, lockForViewer } from "../ui.js";

const BASE = () => ws("/email/deliverability");
const OK_COLOURS = { pass: "success", warn: "warning", fail: "danger", ok: "success", alert: "warning", pause: "danger" };

const badge = (state) => h("span", { class: `badge text-bg-${OK_COLOURS[state] || "secondary"}`, dataset: { state } }, state);
const pct = (v, digits) => (v === undefined || v === null ? "–" : `${(Number(v) * 100).toFixed(digits)} %`);

export async function render(root) {
  const box = h("div", { id: "deliverability" });
  root.append(box);
  const refresh = async () => draw(box, await get(BASE()), refresh);
  await refresh();
}

function draw(box, view, refresh) {
  box.dataset.drawn = String(Number(box.dataset.drawn || 0) + 1); // a redraw after each save
  clear(box).append(dkimCard(view, refresh), preflightCard(), reputationCard(view.reputation), mailboxCard(view, refresh), webhooksCard(view, refresh), sendingCard(view, refresh));
}

/** A form whose submit PUTs `body()` to `path`, then reads the page again (with the
 * reputation, which the PUT's answer leaves out). */
function putForm(id, path, body, controls, label, done, refresh) {
  const errorBox = h("div");
  const save = editable(h("button", { class: "btn btn-primary btn-sm", type: "submit" }, icon("save"), label));
  const form = h("form", { id, novalidate: true }, errorBox, lockForViewer(h("fieldset", { disabled: !isOwner() }, controls, isOwner() ? save : null)));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (await act(save, () => put(`${BASE()}/${path}`, body()), { errorBox, done })) await refresh();
  });
  return form;
}

function mailboxCard(view, refresh) {
  const m = view.mailbox || {};
  const host = h("input", { class: "form-control", id: "mailbox-host", value: m.host || "", placeholder: "imap.example.com", required: true });
  const port = h("input", { class: "form-control", id: "mailbox-port", type: "number", min: 1, max: 65535, value: m.port ?? "", placeholder: "993" });
  const security = selectDefault(h("select", { class: "form-select", id: "mailbox-security" }, ["ssl", "starttls", "none"].map((x) => h("option", { value: x }, x))), m.security || "ssl");
  const username = h("input", { class: "form-control", id: "mailbox-username", value: m.username || "", required: true, autocomplete: "off" });
  const password = h("input", { class: "form-control", id: "mailbox-password", type: "password", autocomplete: "new-password", placeholder: m.password_set ? "kept: type to replace" : "" });
  const address = h("input", { class: "form-control", id: "mailbox-address", type: "email", value: m.address || "", placeholder: "bounces@example.com", required: true });
  const folder = h("input", { class: "form-control", id: "mailbox-folder", value: m.folder || "", placeholder: "INBOX" });
  const enabled = h("input", { class: "form-check-input", type: "checkbox", id: "mailbox-enabled", checked: m.enabled ?? true });
  const body = () => ({
    host: host.value.trim(),
    ...(port.value && { port: Number(port.value) }),
    security: security.value,
    username: username.value.trim(),
    ...(password.value && { password: password.value }),
    address: address.value.trim(),
    ...(folder.value.trim() && { folder: folder.value.trim() }),
    enabled: enabled.checked,
  });
  const state = view.mailbox ? h("p", { class: "small", id: "mailbox-state" }, badge(view.mailbox.enabled ? "pass" : "warn"), ` ${view.mailbox.address} on ${view.mailbox.host}`, view.mailbox.last_polled_at ? `, read ${fmtDate(view.mailbox.last_polled_at)}` : ", not read yet") : h("p", { class: "small text-body-secondary", id: "mailbox-state" }, "No bounce mailbox: bounces arrive by the SMTP answer and the webhooks only.");
  const controls = h(
    "div",
    {},
    h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("IMAP host", host)), h("div", { class: "col-md-2" }, field("Port", port)), h("div", { class: "col-md-2" }, field("Security", security)), h("div", { class: "col-md-4" }, field("Bounce address", address, "Messages go out with bounces+<token>@ its domain (VERP)."))),
    h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Username", username)), h("div", { class: "col-md-4" }, field("Password", password, "Kept in the secrets store.")), h("div", { class: "col-md-2" }, field("Folder", folder)), h("div", { class: "col-md-2 form-check mt-4 ps-5" }, enabled, h("label", { class: "form-check-label", for: "mailbox-enabled" }, "Read it"))),
  );
  return card("Bounce mailbox (IMAP)", [state, putForm("mailbox-form", "mailbox", body, controls, "Save mailbox", "Bounce mailbox saved", refresh)]);
}

function dkimCard(view, refresh) {
  const errorBox = h("div");
  const dkim = view.dkim;
  const domain = h("input", { class: "form-control", id: "dkim-domain", placeholder: view.from_domain || "example.com", value: dkim?.domain || "" });
  const selector = h("input", { class: "form-control", id: "dkim-selector", placeholder: "herald<YYYYMM>" });
  const generate = editable(h("button", { class: "btn btn-primary", type: "button", id: "dkim-generate" }, icon("key"), dkim ? "Generate a new key" : "Generate a key"));
  generate.addEventListener("click", async () => {
    const body = { ...(domain.value.trim() && { domain: domain.value.trim() }), ...(selector.value.trim() && { selector: selector.value.trim() }) };
    if (await act(generate, () => post(`${BASE()}/dkim`, body), { errorBox, done: "DKIM key generated: publish its record" })) await refresh();
  });
  const parts = [errorBox];
  if (dkim) {
    const toggle = editable(h("button", { class: "btn btn-outline-secondary btn-sm", type: "button", id: "dkim-toggle" }, dkim.enabled ? "Turn signing off" : "Turn signing on"));
    toggle.addEventListener("click", async () => {
      if (await act(toggle, () => put(`${BASE()}/dkim`, { enabled: !dkim.enabled }), { errorBox })) await refresh();
    });
    parts.push(
      h("p", {}, "Signing ", badge(dkim.enabled ? "pass" : "warn"), ` ${dkim.enabled ? "on" : "off"} for `, h("strong", {}, dkim.domain), ` with selector `, h("code", {}, dkim.selector), " ", toggle),
      h("p", { class: "mb-1" }, "Publish this TXT record:"),
      h("div", { class: "mb-1" }, h("code", { id: "dkim-record-name" }, dkim.dns.name)),
      h("pre", { class: "bg-body-tertiary p-2 small text-wrap text-break", id: "dkim-record-value" }, dkim.dns.value),
    );
  } else parts.push(h("p", { class: "text-body-secondary" }, "No DKIM key yet: messages go out unsigned."));
  if (isOwner()) parts.push(h("div", { class: "row g-2 align-items-end" }, h("div", { class: "col-md-4" }, domain), h("div", { class: "col-md-4" }, selector), h("div", { class: "col-md-4" }, generate)));
  return card("DKIM", parts);
}

function preflightCard() {
  const errorBox = h("div");
  const out = h("div", { id: "preflight-results" });
  const run = h("button", { class: "btn btn-outline-primary", type: "button", id: "preflight-run" }, icon("search"), "Check the sending domain's DNS");
  run.addEventListener("click", async () => {
    const r = await act(run, () => post(`${BASE()}/preflight`, {}), { errorBox });
    if (!r) return;
    clear(out).append(
      h("p", {}, "Domain ", h("strong", {}, r.domain), " via ", h("code", {}, r.smtp_host), ": ", badge(r.ok)),
      table(
        ["Check", "Result", "Found", "Advice"],
        r.checks.map((c) => h("tr", { dataset: { check: c.name } }, h("td", {}, c.name.toUpperCase()), h("td", {}, badge(c.ok)), h("td", { class: "small text-break" }, c.found ? String(c.found) : "–"), h("td", { class: "small" }, c.advice || ""))),
      ),
    );
  });
  return card("Pre-flight: SPF, DKIM, DMARC", [errorBox, run, out]);
}

function reputationCard(rep) {
  const row = (label, f) =>
    f
      ? h("tr", {}, h("td", {}, label), h("td", {}, fmtNumber(f.sent)), h("td", {}, fmtNumber(f.hard_bounces)), h("td", {}, fmtNumber(f.soft_bounces)), h("td", {}, fmtNumber(f.complaints)), h("td", {}, pct(f.complaint_rate, 2)), h("td", {}, pct(f.bounce_rate, 1)))
      : null;
  const lines = rep.lines;
  return card(
    "Reputation (last 7 days)",
    [
      h("p", { id: "reputation-state" }, badge(rep.state), " ", rep.reason || "Complaint and bounce rates are within the lines."),
      table(["", "Sent", "Hard bounces", "Soft bounces", "Complaints", "Complaint rate", "Bounce rate"], [row("Workspace", rep.workspace), row(`Domain ${rep.sending_domain?.domain || ""}`, rep.sending_domain)].filter(Boolean)),
      h(
        "p",
        { class: "small text-body-secondary mb-0" },
        `Gmail: keep complaints under ${pct(lines.complaint_keep_under, 1)}, never reach ${pct(lines.complaint_never_reach, 1)}. `,
        `Herald alerts at ${pct(lines.complaint_alert, 2)} and pauses sending at ${pct(lines.complaint_pause, 1)} complaints; `,
        `bounces: alert at ${pct(lines.bounce_alert, 0)}, pause at ${pct(lines.bounce_pause, 0)} (from ${lines.min_sent} sent).`,
      ),
    ],
  );
}

/** What verifies one provider's webhook calls: SNS topics, a key, or basic auth. */
function webhookForm(provider, w, refresh) {
  const input = (name, attrs) => h("input", { class: "form-control form-control-sm", name, "aria-label": `${provider}: ${attrs.placeholder}`, autocomplete: "off", ...attrs });
  let controls;
  let body;
  if (provider === "ses") {
    const arns = input("topic_arns", { placeholder: "SNS topic ARNs, comma-separated", value: (w.topic_arns || []).join(", ") });
    controls = arns;
    body = () => ({ provider, topic_arns: arns.value.split(/[\s,]+/).filter(Boolean) });
  } else if (provider === "postmark") {
    const user = input("username", { placeholder: "basic auth user", value: w.username || "" });
    const pass = input("password", { placeholder: "basic auth password (12+)", type: "password" });
    controls = h("div", { class: "d-flex gap-1" }, user, pass);
    body = () => ({ provider, username: user.value.trim(), password: pass.value });
  } else {
    const key = input("key", { placeholder: provider === "sendgrid" ? "verification key" : "signing key", type: "password" });
    controls = key;
    body = () => ({ provider, key: key.value });
  }
  return putForm(`webhook-${provider}`, "webhooks", body, h("div", { class: "mb-1" }, controls), "Save", `${provider} webhook saved`, refresh);
}

function sendingCard(view, refresh) {
  const limit = h("input", { class: "form-control", id: "soft-bounce-limit", type: "number", min: 1, max: 20, value: view.soft_bounce_limit });
  const policy = putForm("policy-form", "policy", () => ({ soft_bounce_limit: Number(limit.value) }), field("Soft bounces in a row that suppress an address", limit), "Save limit", "Soft-bounce limit saved", refresh);
  const w = view.warmup;
  const curve = h("input", { class: "form-control", id: "warmup-curve", value: (w?.curve || []).join(", "), placeholder: "default curve" });
  const start = h("input", { class: "form-control", id: "warmup-start", type: "date", value: w?.start || "" });
  const on = h("input", { class: "form-check-input", type: "checkbox", id: "warmup-enabled", checked: w ? Boolean(w.enabled ?? true) : true });
  const warm = putForm(
    "warmup-form",
    "warmup",
    () => ({ ...(curve.value.trim() && { curve: curve.value.split(/[\s,]+/).filter(Boolean).map(Number) }), ...(start.value && { start: start.value }), enabled: on.checked }),
    h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Daily volumes", curve, "Messages a day, day by day; empty: Herald's default curve.")), h("div", { class: "col-md-3" }, field("From", start)), h("div", { class: "col-md-3 form-check mt-4 ps-5" }, on, h("label", { class: "form-check-label", for: "warmup-enabled" }, "Warm up"))),
    "Save warm-up",
    "Warm-up saved",
    refresh,
  );
  const state = w ? h("p", { class: "small", id: "warmup-state" }, `Day ${w.day} of ${w.days}: at most ${fmtNumber(w.cap_today)} today`, w.held ? " (held: the reputation guard is not clear)" : "") : h("p", { class: "small text-body-secondary", id: "warmup-state" }, "No warm-up plan.");
  return card("Sending policy", [h("p", { class: "small" }, `Quota: ${view.daily_quota ? `${fmtNumber(view.daily_quota)} a day` : "no daily cap"}, ${view.per_minute_rate ? `${fmtNumber(view.per_minute_rate)} a minute` : "no rate limit"}.`), policy, h("hr"), state, warm]);
}

function webhooksCard(view, refresh) {
  return card(
    "Bounce and complaint webhooks",
    table(
      ["Provider", "URL to give it", "Verification", isOwner() ? "Set it" : ""],
      Object.entries(view.webhooks).map(([provider, w]) => h("tr", { dataset: { provider } }, h("td", {}, provider), h("td", {}, h("code", { class: "small" }, w.url)), h("td", {}, badge(w.configured ? "pass" : "warn"), w.configured ? " configured" : " not set"), h("td", {}, isOwner() ? webhookForm(provider, w, refresh) : null))),
    ),
  );
}
