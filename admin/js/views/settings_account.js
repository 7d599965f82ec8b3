// Settings → your account (change the password; every other session ends) and a new
// workspace of your own.
import { keepSignedIn, post, session, setToken, setWorkspace } from "../api.js";
import { card, field, h, icon } from "../dom.js";
import { act, toast } from "../ui.js";
import { zoneSelect } from "../zones.js";

export function accountSection() {
  const errorBox = h("div");
  const current = h("input", { class: "form-control", type: "password", id: "pw-current", autocomplete: "current-password", required: true });
  const next = h("input", { class: "form-control", type: "password", id: "pw-new", autocomplete: "new-password", minlength: 10, required: true });
  const again = h("input", { class: "form-control", type: "password", id: "pw-again", autocomplete: "new-password", required: true });
  const save = h("button", { class: "btn btn-primary", type: "submit", id: "pw-save" }, icon("key"), "Change password");
  const form = h(
    "form",
    { id: "password-form", novalidate: true },
    errorBox,
    h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Current password", current)), h("div", { class: "col-md-4" }, field("New password", next, "At least 10 characters.")), h("div", { class: "col-md-4" }, field("New password again", again))),
    save,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (next.value !== again.value) return act(null, () => Promise.reject(new Error("The two new passwords differ.")), { errorBox });
    const r = await act(save, () => post("/auth/password", { current_password: current.value, new_password: next.value }), { errorBox });
    if (r) {
      setToken(r.token); // this session goes on; every other one ended
      keepSignedIn(r.expires_at);
      form.reset();
      toast("Password changed; your other sessions have ended");
    }
    return undefined;
  });
  return card(`Your account (${session.me?.user?.username || ""})`, form);
}

export function newWorkspaceSection() {
  const errorBox = h("div");
  const name = h("input", { class: "form-control", id: "new-ws-name", maxlength: 120, required: true });
  const tz = zoneSelect({ id: "new-ws-tz" }, "UTC");
  const create = h("button", { class: "btn btn-outline-primary", type: "submit", id: "new-ws-create" }, icon("plus-lg"), "Create workspace");
  const form = h("form", { id: "new-workspace-form", novalidate: true }, errorBox, h("div", { class: "row align-items-end" }, h("div", { class: "col-md-5" }, field("Name", name)), h("div", { class: "col-md-4" }, field("Timezone", tz)), h("div", { class: "col-md-3 mb-3" }, create)));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const w = await act(create, () => post("/workspaces", { name: name.value.trim(), timezone: tz.value }), { errorBox });
    if (w) {
      toast(`Workspace “${w.name}” created; you are its owner`);
      // Reload into it: the workspace switcher, the role and every view follow.
      setWorkspace(w.id);
      location.reload();
    }
  });
  return card("A new workspace", h("div", {}, h("p", { class: "small text-body-secondary" }, "Another team or brand: its own campaigns, contacts, accounts and members."), form));
}
