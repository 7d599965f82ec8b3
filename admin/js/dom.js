// DOM helpers. User data only ever becomes text nodes or attribute values set through the
// DOM API: nothing here parses HTML, so a campaign called "<img onerror=...>" stays text.
import { formatInstant } from "./time.js";

/** Creates an element. attrs: class, text, on<Event> handlers, dataset, any attribute. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "value") {
      // The default too, so form.reset() comes back to it rather than to empty.
      if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") el.defaultValue = value;
      el.value = value;
    } else if (key === "checked") {
      el.defaultChecked = el.checked = Boolean(value); // form.reset() keeps it
    } else if (key === "disabled" || key === "selected" || key === "multiple") {
      el[key] = Boolean(value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export const icon = (name) => h("i", { class: `bi bi-${name}`, "aria-hidden": "true" });

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function fmtDate(value, timeZone) {
  return formatInstant(value, timeZone);
}

/** Chooses `value` in a select and makes it the default that form.reset() restores. */
export function selectDefault(select, value) {
  for (const o of select.options) o.defaultSelected = o.value === String(value ?? "");
  select.value = value ?? "";
  return select;
}

export function fmtNumber(value, digits = 0) {
  if (value === undefined || value === null || value === "") return "–";
  return Number(value).toLocaleString(undefined, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function fmtPct(value) {
  if (value === undefined || value === null) return "–";
  return `${(Number(value) * 100).toFixed(1)} %`;
}

const STATUS_COLOURS = {
  draft: "secondary",
  pending_approval: "info",
  approved: "info",
  scheduled: "primary",
  queued: "primary",
  sending: "warning",
  posting: "warning",
  publishing: "warning",
  unconfirmed: "warning",
  held: "warning",
  reconnect_needed: "danger",
  archived: "dark",
  open: "success",
  closed: "secondary",
  generated: "info",
  deferred: "warning",
  suppressed: "secondary",
  running: "warning",
  active: "success",
  published: "success",
  posted: "success",
  sent: "success",
  done: "success",
  completed: "success",
  delivered: "success",
  failed: "danger",
  error: "danger",
  rejected: "danger",
  bounced: "danger",
  cancelled: "dark",
  paused: "dark",
};

export function statusBadge(status) {
  const colour = STATUS_COLOURS[status] || "secondary";
  return h("span", { class: `badge text-bg-${colour}`, dataset: { status: status || "" } }, String(status || "unknown").replaceAll("_", " "));
}

/** A card with a header line and a body. */
export function card(title, body, extra) {
  return h(
    "div",
    { class: "card mb-4" },
    h("div", { class: "card-header d-flex align-items-center gap-2 flex-wrap" }, h("h2", { class: "h6 fw-semibold mb-0" }, title), h("div", { class: "ms-auto d-flex gap-2 flex-wrap" }, extra || [])),
    h("div", { class: "card-body" }, body),
  );
}

/** A labelled form control wrapper; a `required` control's label says so. */
export function field(label, control, help) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 10)}`;
  const helpId = help ? `${control.id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  const mark = control.required ? [h("span", { class: "required-mark", "aria-hidden": "true" }, " *"), h("span", { class: "visually-hidden" }, " (required)")] : null;
  return h(
    "div",
    { class: "mb-3" },
    h("label", { class: "form-label", for: control.id }, label, mark),
    control,
    help ? h("div", { class: "form-text", id: helpId }, help) : null,
  );
}

/** A table in a horizontally scrollable box (its own scroll, never the page's). */
export function table(headers, rows, emptyText = "Nothing here yet.") {
  const tbody = h("tbody");
  if (!rows.length) {
    tbody.append(h("tr", {}, h("td", { colspan: headers.length, class: "text-body-secondary text-center py-4" }, emptyText)));
  } else tbody.append(...rows);
  return h(
    "div",
    { class: "table-responsive" },
    h("table", { class: "table table-hover align-middle" }, h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))), tbody),
  );
}
