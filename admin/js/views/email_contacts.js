// Email → Contacts: import a file into a list (with its validation report), the lists with
// their counts, and the contacts: search by address, subscription status, edit, manual
// unsubscribe, delete, CSV export.
import { canEdit, del, get, list, listAll, patch, post, request, session, ws } from "../api.js";
import { card, clear, field, fmtDate, fmtNumber, h, icon, selectDefault, statusBadge, table } from "../dom.js";
import { act, confirmButton, editable, exportButton, lockForViewer, showError, toast } from "../ui.js";
import { zoneSelect } from "../zones.js";
import { P, guessMapping, importReport } from "./email.js";

const PAGE = 50;

function importForm(onImported) {
  const reportBox = h("div");
  const file = h("input", { class: "form-control", type: "file", id: "contacts-file", accept: ".csv,.xlsx,text/csv", required: true });
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
  let lists = [];
  const setLists = (items, chosen) => {
    lists = items;
    clear(listSel).append(h("option", { value: "" }, "— a new list named below —"), ...items.map((l) => h("option", { value: l.id }, `${l.name} (${fmtNumber(l.contact_count ?? 0)})`)));
    selectDefault(listSel, chosen ?? listSel.dataset.chosen ?? "");
    listSel.dataset.chosen = listSel.value;
    listName.disabled = Boolean(listSel.value);
  };
  listSel.addEventListener("change", () => {
    listSel.dataset.chosen = listSel.value;
    listName.disabled = Boolean(listSel.value);
  });
  const upload = editable(h("button", { class: "btn btn-primary", type: "submit", id: "contacts-import" }, icon("upload"), "Import"));
  const form = h(
    "form",
    { id: "contacts-form", novalidate: true },
    lockForViewer(h("fieldset", {}, field("CSV or Excel file", file, "A header row with at least an email column; first_name, last_name, timezone and other columns become contact fields."), mappingBox, h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Add to list", listSel)), h("div", { class: "col-md-6" }, field("New list name", listName, "Used when “a new list” is chosen."))), upload)),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(reportBox);
    if (!file.files[0]) return showError(reportBox, new Error("Choose a CSV or Excel file first."));
    const typed = listName.value.trim();
    if (!listSel.value && !typed) return showError(reportBox, new Error("Choose a list or name a new one."));
    // A name that is already a list's name means that list, not a second one.
    const same = !listSel.value && lists.find((l) => l.name.trim().toLowerCase() === typed.toLowerCase());
    const report = await act(
      upload,
      async () => {
        const listId = listSel.value || same?.id || (await post(P.lists(), { name: typed })).id;
        const fd = new FormData();
        fd.append("file", file.files[0]);
        if (mapping) fd.append("mapping", JSON.stringify(mapping));
        return { listId, ...(await request("POST", P.imports(listId), fd)) };
      },
      { errorBox: reportBox },
    );
    if (!report) return;
    reportBox.append(card("Validation report", importReport(report)));
    toast(report.status === "importing" ? "Import running in the background" : same ? `Contacts added to the existing list “${same.name}”` : "Contacts imported");
    // The next import goes to the same list unless the person chooses another.
    file.value = "";
    clear(mappingBox);
    listName.value = "";
    listSel.dataset.chosen = report.listId;
    await onImported(report.listId);
    if (report.status === "importing") follow(report, reportBox, onImported);
  });
  return { form: h("div", {}, form, reportBox), setLists };
}

/** A background import: its progress until it is done, then the lists again. */
async function follow(report, reportBox, onImported) {
  for (let i = 0; i < 120; i += 1) {
    await new Promise((r) => setTimeout(r, 2000));
    const st = await get(P.importStatus(report.import_id)).catch(() => null);
    if (!st || ["done", "failed", "partial"].includes(st.status)) {
      if (st) clear(reportBox).append(card("Validation report", importReport({ ...st, imported: st.written, status: st.status === "done" ? "done" : st.status })));
      await onImported(report.listId);
      return;
    }
  }
}

function editForm(contact, errorBox, done) {
  const first = h("input", { class: "form-control", id: "contact-first", value: contact.first_name || "", maxlength: 120 });
  const last = h("input", { class: "form-control", id: "contact-last", value: contact.last_name || "", maxlength: 120 });
  const tz = zoneSelect({ id: "contact-tz" }, contact.timezone || "UTC");
  const noTz = h("option", { value: "" }, "— none (the campaign's zone) —");
  tz.prepend(noTz);
  selectDefault(tz, contact.timezone || "");
  const fields = h("textarea", { class: "form-control font-monospace", id: "contact-fields", rows: 3, value: Object.entries(contact.fields || {}).map(([k, v]) => `${k}=${v}`).join("\n") });
  const save = h("button", { class: "btn btn-primary", type: "submit", id: "contact-save" }, icon("save"), "Save contact");
  const cancel = h("button", { class: "btn btn-outline-secondary", type: "button" }, "Cancel");
  cancel.addEventListener("click", () => done(false));
  const form = h(
    "form",
    { id: "contact-edit", novalidate: true },
    h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("First name", first)), h("div", { class: "col-md-4" }, field("Last name", last)), h("div", { class: "col-md-4" }, field("Timezone", tz, "For campaigns sent at a local hour."))),
    field("Fields", fields, "One name=value a line; the email templates use them as {{ name }}."),
    h("div", { class: "d-flex gap-2" }, save, cancel),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const pairs = fields.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => [l.split("=")[0].trim(), l.slice(l.indexOf("=") + 1).trim()]);
    const saved = await act(save, () => patch(P.contact(contact.id), { first_name: first.value.trim(), last_name: last.value.trim(), timezone: tz.value || null, fields: Object.fromEntries(pairs) }), { errorBox, done: `${contact.email} saved` });
    if (saved) done(true);
  });
  return card(`Edit ${contact.email}`, form);
}

export async function render(root) {
  const errorBox = h("div");
  const listsBox = h("div", { id: "contact-lists" });
  const contactsBox = h("div", { id: "contacts-table" });
  const editBox = h("div", { id: "contact-edit-box" });
  const search = h("input", { class: "form-control form-control-sm w-auto flex-grow-1", type: "search", id: "contacts-search", placeholder: "Search by address", "aria-label": "Search contacts by the start of their address" });
  const scope = h("select", { class: "form-select form-select-sm w-auto", id: "contacts-scope", "aria-label": "Contacts of" }, h("option", { value: "" }, "all contacts"));
  const more = h("button", { class: "btn btn-sm btn-outline-secondary d-none", type: "button", id: "contacts-more" }, "Next page");
  const { form, setLists } = importForm(async () => refresh());
  let names = new Map();
  let cursor = null;
  let asked = 0; // a newer search or scope wins over an older answer arriving late

  async function loadContacts(after) {
    const mine = ++asked;
    const page = await list(P.contacts(), { limit: PAGE, q: search.value.trim() || undefined, list_id: scope.value || undefined, cursor: after || undefined });
    if (mine !== asked) return;
    cursor = page.next_cursor;
    more.classList.toggle("d-none", !cursor);
    const rows = page.items.map((c) => {
      const edit = editable(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary" }, icon("pencil"), "Edit"));
      edit.addEventListener("click", () => {
        clear(editBox).append(editForm(c, errorBox, async (saved) => {
          clear(editBox);
          if (saved) await loadContacts();
        }));
        editBox.querySelector("input")?.focus();
      });
      const unsub = c.status === "subscribed"
        ? confirmButton("Unsubscribe", "Confirm unsubscribe", "warning", (b) => act(b, () => patch(P.contact(c.id), { status: "unsubscribed" }), { errorBox, done: `${c.email} unsubscribed` }).then(() => loadContacts()))
        : c.suppression_reason === "manual"
          ? editable(h("button", { type: "button", class: "btn btn-sm btn-outline-success", onclick: (e) => act(e.currentTarget, () => patch(P.contact(c.id), { status: "subscribed" }), { errorBox, done: `${c.email} subscribed again` }).then(() => loadContacts()) }, "Resubscribe"))
          : null;
      const remove = confirmButton("Delete", "Confirm delete", "danger", (b) => act(b, () => del(P.contact(c.id)), { errorBox, done: `${c.email} deleted` }).then(() => refresh()));
      // Shown a list's contacts: one can leave that list (the contact and its other lists stay).
      const listId = scope.value;
      const leave = listId ? confirmButton("Remove from list", "Confirm remove", "warning", (b) => act(b, () => del(ws(`/lists/${encodeURIComponent(listId)}/contacts/${encodeURIComponent(c.id)}`)), { errorBox, done: `${c.email} removed from ${names.get(listId) || "the list"}` }).then(() => refresh())) : null;
      return h(
        "tr",
        { dataset: { id: c.id, status: c.status } },
        h("td", {}, c.email),
        h("td", {}, [c.first_name, c.last_name].filter(Boolean).join(" ")),
        h("td", {}, statusBadge(c.status)),
        h("td", { class: "small" }, (c.list_ids || []).map((id) => names.get(id) || id).join(", ")),
        h("td", { class: "small" }, c.timezone || ""),
        h("td", { class: "text-nowrap" }, canEdit() ? h("div", { class: "d-flex gap-1" }, edit, unsub, leave, remove) : null),
      );
    });
    clear(contactsBox).append(table(["Email", "Name", "Status", "Lists", "Timezone", ""], rows, search.value ? "No contact's address starts with that." : "No contacts yet: import a file."));
  }

  async function refresh(chosen) {
    const lists = await listAll(P.lists()).catch(() => []);
    names = new Map(lists.map((l) => [l.id, l.name]));
    setLists(lists, chosen);
    const keep = scope.value;
    clear(scope).append(h("option", { value: "" }, "all contacts"), ...lists.map((l) => h("option", { value: l.id }, `list: ${l.name}`)));
    scope.value = keep;
    clear(listsBox).append(
      table(
        ["List", "Contacts", "Created"],
        lists.map((l) => h("tr", { dataset: { id: l.id } }, h("td", {}, h("button", { type: "button", class: "btn btn-link p-0 text-start", onclick: () => ((scope.value = l.id), loadContacts()) }, l.name)), h("td", { class: "list-count" }, fmtNumber(l.contact_count ?? 0)), h("td", { class: "small" }, fmtDate(l.created_at, session.workspace?.timezone)))),
        "No lists yet: import a file.",
      ),
    );
    await loadContacts();
  }
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => loadContacts().catch((exc) => showError(errorBox, exc)), 300);
  });
  scope.addEventListener("change", () => loadContacts());
  more.addEventListener("click", () => loadContacts(cursor));
  root.append(
    errorBox,
    canEdit() ? card("Import contacts", form) : h("span"),
    card("Lists", listsBox, exportButton("contact_lists")),
    editBox,
    card("Contacts", h("div", {}, h("div", { class: "d-flex gap-2 mb-2 flex-wrap" }, search, scope), contactsBox, more), exportButton("contacts")),
  );
  await refresh();
}
