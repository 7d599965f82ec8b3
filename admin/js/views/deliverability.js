// Email deliverability: the DKIM key (generate, the DNS record to publish, on/off), the
// sending domain's pre-flight (SPF, DKIM, DMARC with advice), the reputation figures
// against Gmail's lines, and the webhook URLs to give each provider.
import { get, isOwner, post, put, ws } from "../api.js";
import { card, clear, fmtNumber, h, icon, table } from "../dom.js";
import { act, editable } from "../ui.js";

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
  clear(box).append(dkimCard(view, refresh), preflightCard(), reputationCard(view.reputation), webhooksCard(view));
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

function webhooksCard(view) {
  return card(
    "Bounce and complaint webhooks",
    table(
      ["Provider", "URL to give it", "Verification"],
      Object.entries(view.webhooks).map(([provider, w]) => h("tr", { dataset: { provider } }, h("td", {}, provider), h("td", {}, h("code", { class: "small" }, w.url)), h("td", {}, badge(w.configured ? "pass" : "warn"), w.configured ? " configured" : " not set"))),
    ),
  );
}
