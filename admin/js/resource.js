// A generic list + create form for simple resources (job openings, candidates, segments…).
import { canEdit, listAll, post } from "./api.js";
import { card, clear, field, h, icon, selectDefault, table } from "./dom.js";
import { act, editable, lockForViewer, toast } from "./ui.js";

/**
 * spec: {title, path, columns: [[label, row => node|string]], fields: [{name, label,
 * type, options, help, required, parse, value (the default), placeholder}], createLabel,
 * empty, id, extra (header node, e.g. an export button)}
 */
export async function resourceSection(spec) {
  const box = h("div", { id: `${spec.id}-list` });
  const refresh = async () => {
    const items = await listAll(spec.path());
    clear(box).append(table(spec.columns.map(([label]) => label), items.map((row) => h("tr", { dataset: { id: row.id } }, spec.columns.map(([, cell]) => h("td", { class: "wrap" }, cell(row) ?? "")))), spec.empty));
    return items;
  };
  const section = h("div", { id: spec.id });
  if (spec.fields?.length) {
    const controls = {};
    const inputs = spec.fields.map((f) => {
      let el;
      const required = Boolean(f.required);
      if (f.options) {
        el = h("select", { class: "form-select", name: f.name, multiple: f.multiple, required }, f.options().map(([v, l]) => h("option", { value: v }, l)));
        if (!f.multiple) selectDefault(el, f.value ?? el.options[0]?.value ?? "");
      } else if (f.type === "textarea") el = h("textarea", { class: "form-control", name: f.name, rows: 3, required });
      // `value` is the default form.reset() comes back to (h() sets defaultValue).
      else el = h("input", { class: "form-control", name: f.name, type: f.type || "text", value: f.value ?? "", required, placeholder: f.placeholder });
      el.id = `${spec.id}-${f.name}`;
      controls[f.name] = el;
      return h("div", { class: f.col || "col-md-4" }, field(f.label, el, f.help));
    });
    const errorBox = h("div");
    const submit = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon("plus-lg"), spec.createLabel || "Create"));
    const form = h("form", { novalidate: true, id: `${spec.id}-form` }, errorBox, lockForViewer(h("fieldset", {}, h("div", { class: "row" }, inputs), submit)));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {};
      for (const f of spec.fields) {
        if (f.multiple) {
          body[f.name] = Array.from(controls[f.name].selectedOptions, (o) => o.value);
          continue;
        }
        const raw = controls[f.name].value;
        if (raw === "" && !f.required) continue;
        body[f.name] = f.parse ? f.parse(raw) : raw.trim();
      }
      const created = await act(submit, () => post(spec.path(), spec.transform ? spec.transform(body) : body), { errorBox });
      if (created) {
        toast(`${spec.noun || "Item"} created`);
        form.reset();
        await refresh();
        spec.onCreated?.(created);
      }
    });
    section.append(card(spec.title, h("div", {}, canEdit() ? [form, h("hr")] : null, box), spec.extra));
  } else section.append(card(spec.title, box, spec.extra));
  section.refresh = refresh;
  await refresh().catch((exc) => {
    clear(box).append(h("div", { class: "text-danger small" }, exc.describe ? exc.describe() : String(exc)));
  });
  return section;
}

