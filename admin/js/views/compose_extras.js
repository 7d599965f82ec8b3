// The composer's helpers from other screens: a post template with its placeholders
// filled (POST .../templates/{id}/render), an image from the media library, and a
// hand-over of the text to a new recurring series.
import { listAll, post, ws } from "../api.js";
import { clear, h, icon } from "../dom.js";
import { act } from "../ui.js";
import { mediaGrid } from "./media.js";

export const SERIES_SEED = "herald.series.seed";

/** "Start from a template": choose one, fill its {placeholders}, insert the text. */
export function templatePicker(onText, errorBox) {
  const select = h("select", { class: "form-select", id: "compose-template", "aria-label": "Post template" }, h("option", { value: "" }, "— start from a template —"));
  const fields = h("div", { class: "row g-2 mt-1", id: "compose-template-fields" });
  const insert = h("button", { type: "button", class: "btn btn-outline-primary d-none", id: "compose-template-insert" }, icon("box-arrow-in-down"), "Insert");
  let templates = [];
  listAll(ws("/templates"))
    .then((items) => {
      templates = items;
      select.append(...items.map((t) => h("option", { value: t.id }, t.name)));
      if (!items.length) select.append(h("option", { value: "", disabled: true }, "no templates yet (Post templates)"));
    })
    .catch(() => {});
  select.addEventListener("change", () => {
    clear(fields);
    const t = templates.find((x) => x.id === select.value);
    insert.classList.toggle("d-none", !t);
    for (const name of t?.placeholders || []) {
      const input = h("input", { class: "form-control form-control-sm", name, id: `tpl-${name}`, placeholder: name, "aria-label": `Value of {${name}}` });
      fields.append(h("div", { class: "col-sm-6 col-lg-4" }, input));
    }
  });
  insert.addEventListener("click", async () => {
    const values = Object.fromEntries(Array.from(fields.querySelectorAll("input"), (i) => [i.name, i.value]));
    const r = await act(insert, () => post(ws(`/templates/${encodeURIComponent(select.value)}/render`), { values }), { errorBox });
    if (r) onText(r.text);
  });
  return h("div", { class: "mb-3", id: "compose-template-box" }, h("div", { class: "input-group" }, select, insert), fields);
}

/** "From the library": a panel of the workspace's images; a click adds one. */
export function libraryPicker(onPick) {
  const panel = h("div", { class: "w-100 mt-2 d-none", id: "library-panel" });
  const button = h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", id: "library-open", "aria-expanded": "false", "aria-controls": "library-panel" }, icon("images"), "From the library");
  button.addEventListener("click", async () => {
    const open = panel.classList.toggle("d-none") === false;
    button.setAttribute("aria-expanded", String(open));
    if (open && !panel.childElementCount) panel.append(await mediaGrid({ onPick, compact: true }));
  });
  return h("span", { class: "d-contents" }, button, panel);
}

/** "Repeat as a series": the series screen opens with this text and account. */
export function seriesLink(seed) {
  const a = h("a", { class: "btn btn-outline-info", href: "#/series", id: "compose-to-series" }, icon("arrow-repeat"), "Repeat as a series");
  a.addEventListener("click", () => sessionStorage.setItem(SERIES_SEED, JSON.stringify(seed())));
  return a;
}

/** "Check": what would stop the saved post (length, images, duplicates, account) and
 * its cost, from the server (POST .../posts/{id}/validate). */
export function checkButton(postId, box) {
  const b = h("button", { type: "button", class: "btn btn-outline-info", id: "compose-validate" }, icon("check2-circle"), "Check");
  b.addEventListener("click", async () => {
    const r = await act(b, () => post(ws(`/posts/${encodeURIComponent(postId)}/validate`), {}), { errorBox: box });
    if (!r) return;
    clear(box).append(
      r.ok
        ? h("div", { class: "alert alert-success py-2" }, icon("check2"), ` Ready for X: ${r.weighted_lengths.map((n) => `${n} / ${r.limit}`).join(", ")}; estimated $${Number(r.cost?.total_usd ?? 0).toFixed(3)}.`)
        : h("div", { class: "alert alert-warning py-2" }, h("div", { class: "fw-semibold" }, "Not ready yet:"), h("ul", { class: "mb-0" }, r.problems.map((p) => h("li", {}, p.message || p.code || JSON.stringify(p))))),
    );
  });
  return b;
}
