// Email → Templates: saved subjects and bodies (with default values of variables) that
// a new campaign starts from.
import { canEdit, del, listAll, patch, post, session } from "../api.js";
import { card, clear, field, fmtDate, h, icon, table } from "../dom.js";
import { act, editable, exportButton, lockForViewer, toast } from "../ui.js";
import { P, VARIABLES, htmlPreview } from "./email.js";

export function variablesHelp() {
  return h("details", { class: "small mb-3", id: "email-variables" }, h("summary", {}, "Template variables"), h("ul", { class: "mb-0 mt-1" }, VARIABLES.map(([v, what]) => h("li", {}, h("code", {}, v), ` — ${what}`))));
}

function parseDefaults(text) {
  return Object.fromEntries(
    text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]),
  );
}

export async function render(root) {
  const errorBox = h("div");
  const listBox = h("div", { id: "email-templates-list" });
  let editing = null;
  const name = h("input", { class: "form-control", id: "etpl-name", required: true, maxlength: 200 });
  const subject = h("input", { class: "form-control", id: "etpl-subject", maxlength: 998 });
  const html = h("textarea", { class: "form-control font-monospace", id: "etpl-html", rows: 8, spellcheck: "false" });
  const text = h("textarea", { class: "form-control font-monospace", id: "etpl-text", rows: 4 });
  const defaults = h("textarea", { class: "form-control font-monospace", id: "etpl-defaults", rows: 2, placeholder: "first_name=there" });
  const preview = h("div", { id: "etpl-preview" });
  const drawPreview = () => clear(preview).append(htmlPreview(html.value, "etpl-html-preview"));
  html.addEventListener("input", drawPreview);
  const save = editable(h("button", { class: "btn btn-primary", type: "submit", id: "etpl-save" }, icon("save"), "Save template"));
  const cancel = h("button", { class: "btn btn-outline-secondary d-none", type: "button" }, "Cancel editing");
  const form = h(
    "form",
    { id: "email-template-form", novalidate: true },
    lockForViewer(
      h(
        "fieldset",
        {},
        h("div", { class: "row" }, h("div", { class: "col-md-5" }, field("Name", name)), h("div", { class: "col-md-7" }, field("Subject", subject))),
        variablesHelp(),
        h("div", { class: "row g-3" }, h("div", { class: "col-lg-6" }, field("HTML part", html)), h("div", { class: "col-lg-6" }, h("div", { class: "form-label" }, "Preview (sandboxed)"), preview)),
        h("div", { class: "row g-3" }, h("div", { class: "col-lg-6" }, field("Text part", text, "Empty: derived from the HTML.")), h("div", { class: "col-lg-6" }, field("Default values", defaults, "name=value a line, used when a contact has no value."))),
        h("div", { class: "d-flex gap-2" }, save, cancel),
      ),
    ),
  );
  const reset = () => {
    editing = null;
    form.reset();
    cancel.classList.add("d-none");
    drawPreview();
  };
  cancel.addEventListener("click", reset);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), subject: subject.value, html: html.value, text: text.value, defaults: parseDefaults(defaults.value) };
    const saved = await act(save, () => (editing ? patch(P.template(editing), body) : post(P.templates(), body)), { errorBox });
    if (saved) {
      toast(`Template “${saved.name}” saved`);
      reset();
      await refresh();
    }
  });
  async function refresh() {
    const items = await listAll(P.templates());
    clear(listBox).append(
      table(
        ["Name", "Subject", "Updated", ""],
        items.map((t) => {
          const edit = editable(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary" }, icon("pencil"), "Edit"));
          edit.addEventListener("click", () => {
            editing = t.id;
            name.value = t.name;
            subject.value = t.subject || "";
            html.value = t.html || "";
            text.value = t.text || "";
            defaults.value = Object.entries(t.defaults || {}).map(([k, v]) => `${k}=${v}`).join("\n");
            cancel.classList.remove("d-none");
            drawPreview();
            name.focus();
          });
          const remove = editable(h("button", { type: "button", class: "btn btn-sm btn-outline-danger" }, icon("trash"), "Delete"));
          remove.addEventListener("click", () => act(remove, () => del(P.template(t.id)), { errorBox, done: "Template deleted" }).then(refresh));
          const use = editable(h("a", { class: "btn btn-sm btn-outline-primary", href: `#/email/campaigns?template=${encodeURIComponent(t.id)}` }, icon("send"), "New campaign"));
          return h("tr", { dataset: { id: t.id } }, h("td", {}, t.name), h("td", { class: "wrap small" }, t.subject || ""), h("td", { class: "small" }, fmtDate(t.updated_at, session.workspace?.timezone)), h("td", { class: "text-nowrap" }, h("div", { class: "d-flex gap-1" }, edit, remove, use)));
        }),
        "No email templates yet.",
      ),
    );
  }
  root.append(errorBox, canEdit() ? card("Template", form) : h("span"), card("Templates", listBox, exportButton("email_templates")));
  drawPreview();
  await refresh();
}
