// Post templates: texts with {placeholders} the composer fills ("start from a template").
// A template belongs to no network: its counter shows the text as written on each
// network the workspace posts to (the composer checks the filled text per channel).
import { canEdit, del, listAll, patch, post, session, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, table } from "../dom.js";
import { act, editable, exportButton, lockForViewer, pageHeader, toast, viewerNotice } from "../ui.js";
import { LABELS } from "./channels.js";
import { countFor, counterText, networkOf } from "./networks.js";

/** One account per network and limit the workspace posts with (X alone when none). */
function networksOf(accounts) {
  const seen = new Map();
  for (const a of accounts.filter((x) => x.status === "active")) {
    const key = `${networkOf(a)}|${a.limits?.weighted_length || ""}`;
    if (!seen.has(key)) seen.set(key, a);
  }
  return seen.size ? [...seen.values()] : [null];
}

export async function render(root) {
  const networks = networksOf(await listAll(ws("/x/accounts")).catch(() => []));
  const errorBox = h("div");
  const listBox = h("div", { id: "templates-list" });
  let editing = null;
  const name = h("input", { class: "form-control", id: "template-name", maxlength: 200, required: true });
  const text = h("textarea", { class: "form-control", id: "template-text", rows: 4, required: true, placeholder: "New on the blog: {title} {link} #{tag}" });
  const counter = h("div", { class: "form-text counter", id: "template-counter" });
  const count = () => {
    const counts = networks.map((a) => `${LABELS[networkOf(a)]} ${counterText(countFor(a, text.value))}`);
    counter.textContent = `${counts.join(" · ")} as written; {placeholders}: ${(text.value.match(/\{(\w+)\}/g) || []).join(" ") || "none"}`;
  };
  text.addEventListener("input", count);
  count();
  const submit = editable(h("button", { class: "btn btn-primary", type: "submit", id: "template-save" }, icon("save"), "Save template"));
  const cancel = h("button", { class: "btn btn-outline-secondary d-none", type: "button", id: "template-cancel" }, "Cancel editing");
  const form = h("form", { id: "template-form", novalidate: true }, lockForViewer(h("fieldset", {}, field("Name", name), field("Text", text, "Write {name} where the composer asks for a value, e.g. {title}."), counter, h("div", { class: "d-flex gap-2 mt-2" }, submit, cancel))));
  const reset = () => {
    editing = null;
    form.reset();
    cancel.classList.add("d-none");
    submit.lastChild.textContent = "Save template";
    count();
  };
  cancel.addEventListener("click", reset);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), text: text.value };
    const saved = await act(submit, () => (editing ? patch(ws(`/templates/${encodeURIComponent(editing)}`), body) : post(ws("/templates"), body)), { errorBox });
    if (saved) {
      toast(editing ? "Template saved" : `Template “${saved.name}” created`);
      reset();
      await refresh();
    }
  });
  async function refresh() {
    const items = await listAll(ws("/templates"));
    clear(listBox).append(
      table(
        ["Name", "Text", "Placeholders", "Updated", ""],
        items.map((t) => {
          const edit = editable(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary" }, icon("pencil"), "Edit"));
          edit.addEventListener("click", () => {
            editing = t.id;
            name.value = t.name;
            text.value = t.text;
            count();
            cancel.classList.remove("d-none");
            submit.lastChild.textContent = "Save changes";
            name.focus();
          });
          const remove = editable(h("button", { type: "button", class: "btn btn-sm btn-outline-danger" }, icon("trash"), "Delete"));
          remove.addEventListener("click", () => act(remove, () => del(ws(`/templates/${encodeURIComponent(t.id)}`)), { errorBox, done: "Template deleted" }).then(refresh));
          const use = h("a", { class: "btn btn-sm btn-outline-primary", href: "#/compose" }, icon("pencil-square"), "Compose");
          return h("tr", { dataset: { id: t.id } }, h("td", {}, t.name), h("td", { class: "wrap small" }, t.text), h("td", { class: "small" }, (t.placeholders || []).map((p) => `{${p}}`).join(" ")), h("td", { class: "small" }, fmtDate(t.updated_at, session.workspace?.timezone)), h("td", { class: "text-nowrap" }, h("div", { class: "d-flex gap-1" }, edit, remove, use)));
        }),
        "No templates yet.",
      ),
    );
  }
  root.append(pageHeader("Post templates"), viewerNotice(), errorBox, canEdit() ? card("Template", form) : h("span"), card("Templates", listBox, exportButton("post_templates")));
  await refresh();
}
