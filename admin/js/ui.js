// Feedback for people: error alerts from the API's error shape (a 409 says what to do and
// links to where), toasts, confirmations, export buttons, and the read-only mode for viewers.
import { ApiError, canEdit, download, ws } from "./api.js";
import { $, h, icon } from "./dom.js";

// Where a conflict's `details.where` sends the person to fix it.
const GUIDE = {
  smtp: ["Open the SMTP settings", "#/email/smtp"],
  opening: ["Open the job openings", "#/jobs/openings"],
};

export function errorText(exc) {
  if (exc instanceof ApiError) return exc.describe();
  return exc && exc.message ? exc.message : String(exc);
}

function guide(exc) {
  const where = exc instanceof ApiError && exc.details && typeof exc.details === "object" ? exc.details.where : null;
  const entry = where && GUIDE[where];
  if (!entry || !entry[1]) return null;
  return h("a", { class: "alert-link d-inline-block mt-1", href: entry[1] }, icon("arrow-right-circle"), " ", entry[0]);
}

/** An alert inside `container` (replacing an earlier one there). */
export function showError(container, exc) {
  const old = container.querySelector(":scope > .api-error");
  if (old) old.remove();
  const status = exc instanceof ApiError ? exc.status : 0;
  const title = status === 403 ? "Not allowed" : status === 409 ? "One step first" : "Something went wrong";
  const alert = h(
    "div",
    { class: `alert ${status === 409 ? "alert-warning" : "alert-danger"} api-error`, role: "alert", dataset: { status: String(status) } },
    h("div", { class: "fw-semibold" }, icon(status === 409 ? "signpost-split" : "exclamation-triangle"), " ", title),
    h("div", { class: "error-message" }, errorText(exc)),
    guide(exc),
  );
  if (exc instanceof ApiError && Array.isArray(exc.details) && exc.details.length > 8) {
    alert.append(h("div", { class: "small mt-1" }, `…and ${exc.details.length - 8} more.`));
  }
  container.prepend(alert);
  alert.scrollIntoView({ block: "nearest" });
  return alert;
}

export function toast(message, colour = "success") {
  const el = h(
    "div",
    { class: `toast align-items-center text-bg-${colour} border-0 show`, role: colour === "danger" ? "alert" : "status" },
    h("div", { class: "d-flex" }, h("div", { class: "toast-body" }, message), h("button", { type: "button", class: "btn-close btn-close-white me-2 m-auto", "aria-label": "Close", onclick: () => el.remove() })),
  );
  $("#toasts").append(el);
  setTimeout(() => el.remove(), colour === "danger" ? 10000 : 4000);
}

/**
 * Runs an API action from a button: disables it meanwhile, shows errors in `errorBox`
 * (or as a toast), and a success toast if `done` is given.
 */
export async function act(button, fn, { errorBox, done } = {}) {
  if (button) button.disabled = true;
  if (errorBox) errorBox.querySelectorAll(":scope > .api-error").forEach((e) => e.remove());
  try {
    const result = await fn();
    if (done) toast(done);
    return result;
  } catch (exc) {
    if (errorBox) showError(errorBox, exc);
    else toast(errorText(exc), "danger");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Marks controls that change data; viewers get them disabled (the server refuses too). */
export function editable(el) {
  el.dataset.requires = "editor";
  if (!canEdit()) {
    el.disabled = true;
    el.title = "Viewers cannot change anything";
    el.classList.add("d-none");
  }
  return el;
}

/** A read-only fieldset for forms viewers may look at but not submit. */
export function lockForViewer(fieldset) {
  if (!canEdit()) {
    fieldset.disabled = true;
    fieldset.dataset.readonly = "1";
  }
  return fieldset;
}

export function viewerNotice() {
  // An empty element rather than null: Element.append() would print "null".
  return canEdit() ? h("span", { class: "d-none" }) : h("div", { class: "alert alert-secondary py-2 viewer-notice" }, icon("eye"), " You are a viewer in this workspace: you can look, not change.");
}

export function pageHeader(title, ...actions) {
  return h("div", { class: "d-flex align-items-center mb-3 gap-2 flex-wrap" }, h("h1", { class: "h3 mb-0 me-auto" }, title), ...actions);
}

/** A button that downloads a table of the workspace as CSV (GET .../exports/{table}). */
export function exportButton(tableName, label = "Export CSV") {
  const button = h("button", { type: "button", class: "btn btn-sm btn-outline-secondary text-nowrap export-csv", dataset: { table: tableName } }, icon("download"), label);
  button.addEventListener("click", async () => {
    const name = await act(button, () => download(ws(`/exports/${tableName}`)));
    if (name) toast(`Downloaded ${name}`);
  });
  return button;
}

/** A button that asks again before it acts (no browser dialog): the first click arms
 * it for 5 s ("Confirm …"), the second runs `fn(button)`. */
export function confirmButton(label, confirmLabel, colour, fn) {
  const b = editable(h("button", { type: "button", class: `btn btn-sm btn-outline-${colour}` }, label));
  let armed = false;
  const disarm = () => {
    armed = false;
    delete b.dataset.armed;
    b.textContent = label;
    b.classList.replace(`btn-${colour}`, `btn-outline-${colour}`);
  };
  b.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      b.dataset.armed = "1"; // a list that refreshes itself waits while one is armed
      b.textContent = confirmLabel;
      b.classList.replace(`btn-outline-${colour}`, `btn-${colour}`);
      setTimeout(() => b.isConnected && armed && disarm(), 5000);
      return;
    }
    disarm();
    await fn(b);
  });
  return b;
}
