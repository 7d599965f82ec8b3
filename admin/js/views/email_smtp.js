// Email → SMTP settings: the workspace's server (password to the secrets store), the
// sender identity with its postal address (every message's footer), and a test send.
import { get, isOwner, post, put } from "../api.js";
import { card, clear, field, h, icon, selectDefault } from "../dom.js";
import { act } from "../ui.js";
import { P } from "./email.js";

function ownerOnly(el) {
  if (!isOwner()) {
    if (el.tagName === "FIELDSET") {
      el.disabled = true;
      el.dataset.readonly = "1";
    } else el.classList.add("d-none");
  }
  return el;
}

export async function render(root) {
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
    postal_address: h("textarea", { class: "form-control", name: "postal_address", id: "smtp-postal_address", rows: 3, value: c.postal_address || "", placeholder: "Acme Inc.\n1 Main Street\nSpringfield, IL 62701, USA" }),
  };
  const security = selectDefault(h("select", { class: "form-select", id: "smtp-security" }, ["starttls", "ssl", "none"].map((s) => h("option", { value: s }, s))), c.security || "starttls");
  let preset = c.preset || null;
  const presetSel = selectDefault(h("select", { class: "form-select", id: "smtp-preset" }, h("option", { value: "" }, "— custom —"), presets.map((p) => h("option", { value: p.id }, p.label + (p.sandbox ? " [sandbox]" : "")))), preset || "");
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
  f.postal_address.required = !c.sandbox;
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
        field("Postal address", f.postal_address, "Printed in the footer of every campaign email, beside the unsubscribe link: the law (CAN-SPAM) requires a physical address. Campaigns through a real SMTP server are refused without it."),
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
      postal_address: f.postal_address.value.trim(),
    };
    if (f.password.value) bodyData.password = f.password.value;
    act(save, () => put(P.settings(), bodyData), { errorBox, done: "SMTP settings saved" }).then((saved) => {
      if (saved) {
        f.password.value = "";
        clear(status).append(h("span", { class: "badge text-bg-success" }, "configured"));
      }
    });
  });
  const testTo = h("input", { class: "form-control", type: "email", id: "smtp-test-to", placeholder: "you@example.com", "aria-label": "Address to send the test message to" });
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
