// Settings: X accounts (OAuth or a labelled sandbox account) with tier and pricing,
// topics, posting plans, the workspace timezone, members and roles.
import { canEdit, del, get, isOwner, listAll, patch, post, session, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, statusBadge, table } from "../dom.js";
import { act, editable, exportButton, lockForViewer, pageHeader, showError, toast, viewerNotice } from "../ui.js";
import { zoneSelect } from "../zones.js";
import { accountSection, newWorkspaceSection } from "./settings_account.js";

const TIERS = ["free", "basic", "pro", "pay_per_use", "enterprise"];

export async function render(root, ctx) {
  root.append(pageHeader("Settings"), viewerNotice());
  const sections = await Promise.all([workspaceSection(), accountsSection(ctx), topicsSection(), plansSection(), membersSection()]);
  root.append(...sections, accountSection(), newWorkspaceSection());
}

async function workspaceSection() {
  const w = await get(ws(""));
  const errorBox = h("div");
  const name = h("input", { class: "form-control", id: "ws-name", value: w.name });
  const tz = zoneSelect({ id: "ws-timezone" }, w.timezone);
  const save = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon("save"), "Save"));
  const form = h("form", { id: "workspace-form" }, errorBox, lockForViewer(h("fieldset", {}, h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Workspace name", name)), h("div", { class: "col-md-6" }, field("Timezone", tz, "Default for schedules, posting plans and the calendar."))), isOwner() ? save : null)));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const saved = await act(save, () => patch(ws(""), { name: name.value.trim(), timezone: tz.value }), { errorBox, done: "Workspace saved" });
    if (saved) Object.assign(session.workspace, { name: saved.name, timezone: saved.timezone });
  });
  return card("Workspace", form);
}

async function accountsSection() {
  const errorBox = h("div");
  const box = h("div", { id: "x-accounts" });
  const refresh = async () => {
    const items = await listAll(ws("/x/accounts"));
    clear(box).append(
      table(
        ["Account", "Kind", "Status", "Tier", "Pricing (USD)", ""],
        items.map((a) => {
          const tier = h("select", { class: "form-select form-select-sm", "aria-label": "Tier" }, TIERS.concat(a.sandbox ? ["sandbox"] : []).map((t) => h("option", { value: t }, t)));
          tier.value = a.tier;
          tier.disabled = !canEdit();
          const p = a.pricing || {};
          const num = (k) => {
            const el = h("input", { class: "form-control form-control-sm", type: "number", step: "0.001", min: 0, value: p[k] ?? 0, "aria-label": k });
            el.disabled = !canEdit();
            return el;
          };
          const postUsd = num("post_usd");
          const urlUsd = num("post_with_url_usd");
          const monthly = num("monthly_usd");
          const save = editable(h("button", { class: "btn btn-sm btn-outline-primary", type: "button" }, icon("save"), "Save"));
          save.addEventListener("click", () =>
            act(save, () => patch(ws(`/x/accounts/${encodeURIComponent(a.id)}`), { tier: tier.value, pricing: { ...p, post_usd: Number(postUsd.value), post_with_url_usd: Number(urlUsd.value), monthly_usd: Number(monthly.value) } }), { errorBox, done: "Account saved" }),
          );
          const remove = editable(h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("plug"), "Disconnect"));
          remove.addEventListener("click", () => act(remove, () => del(ws(`/x/accounts/${encodeURIComponent(a.id)}`)), { errorBox, done: "Account disconnected" }).then(refresh));
          return h(
            "tr",
            { dataset: { id: a.id } },
            h("td", {}, `@${a.handle || "?"}`, a.display_name ? h("div", { class: "small text-body-secondary" }, a.display_name) : null),
            h("td", {}, a.sandbox ? h("span", { class: "badge text-bg-warning" }, "sandbox") : h("span", { class: "badge text-bg-primary" }, "X")),
            h("td", {}, statusBadge(a.status), a.status_reason ? h("div", { class: "small text-danger" }, a.status_reason) : null),
            h("td", {}, tier),
            h("td", {}, h("div", { class: "d-flex gap-1" }, h("label", { class: "small" }, "post", postUsd), h("label", { class: "small" }, "with link", urlUsd), h("label", { class: "small" }, "monthly", monthly))),
            h("td", { class: "text-nowrap" }, save, " ", remove),
          );
        }),
        "No X account yet.",
      ),
    );
  };
  const connectTier = h("select", { class: "form-select flex-grow-0 w-auto", id: "x-connect-tier", "aria-label": "Tier of the account to connect" }, TIERS.map((t) => h("option", { value: t }, t)));
  connectTier.value = "pay_per_use";
  const connect = editable(h("button", { class: "btn btn-primary", type: "button", id: "x-connect" }, icon("twitter-x"), "Connect an X account"));
  connect.addEventListener("click", async () => {
    // X sends the browser back to callback_url?oauth_token=…&oauth_verifier=…
    const r = await act(connect, () => post(ws("/x/oauth/begin"), { callback_url: `${location.origin}${location.pathname}`, tier: connectTier.value }), { errorBox });
    if (r?.authorization_url) {
      if (!/^https:\/\//.test(r.authorization_url)) return showError(errorBox, new Error("The API returned an authorization address that is not https."));
      location.assign(r.authorization_url);
    }
  });
  const sandboxHandle = h("input", { class: "form-control", id: "sandbox-handle", placeholder: "sandbox handle, e.g. herald_demo", "aria-label": "Handle of the sandbox account" });
  const addSandbox = editable(h("button", { class: "btn btn-outline-warning", type: "button", id: "x-sandbox" }, icon("cone-striped"), "Add a sandbox account"));
  addSandbox.addEventListener("click", () => act(addSandbox, () => post(ws("/x/accounts/sandbox"), { handle: sandboxHandle.value.trim() || "herald_sandbox" }), { errorBox, done: "Sandbox account added" }).then(refresh));
  const sandboxRow = session.sandbox ? h("div", { class: "input-group mt-2" }, sandboxHandle, addSandbox) : null;
  const note = session.sandbox ? h("div", { class: "form-text" }, "Sandbox accounts record posts instead of publishing them; they exist only in the local sandbox.") : null;
  await refresh().catch((exc) => showError(errorBox, exc));
  // Coming back from X's consent screen: the API finishes the handshake.
  const q = new URLSearchParams(location.search);
  if (q.get("oauth_token") && q.get("oauth_verifier")) {
    await act(null, () => post(ws("/x/oauth/complete"), { oauth_token: q.get("oauth_token"), oauth_verifier: q.get("oauth_verifier") }), { errorBox, done: "X account connected" });
    history.replaceState(null, "", `${location.pathname}#/settings`);
    await refresh();
  }
  return card("X accounts", h("div", {}, errorBox, box, isOwner() ? h("div", { class: "mt-2" }, h("div", { class: "input-group w-auto flex-nowrap" }, connectTier, connect), sandboxRow, note) : null), exportButton("x_accounts"));
}

async function topicsSection() {
  const campaigns = await listAll(ws("/campaigns")).catch(() => []);
  const errorBox = h("div");
  const sel = h("select", { class: "form-select", id: "topics-campaign" }, campaigns.map((c) => h("option", { value: c.id }, c.name)));
  const topics = h("textarea", { class: "form-control", id: "topics-text", rows: 4, placeholder: "one topic per line" });
  const load = () => {
    const c = campaigns.find((x) => x.id === sel.value);
    topics.value = (c?.topics || []).map((t) => (typeof t === "string" ? t : t.name)).join("\n");
  };
  sel.addEventListener("change", load);
  load();
  const save = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon("save"), "Save topics"));
  const form = h("form", {}, errorBox, lockForViewer(h("fieldset", {}, field("Campaign", sel), field("Topics the generator writes about", topics), save)));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const list = topics.value.split("\n").map((t) => t.trim()).filter(Boolean);
    const saved = await act(save, () => patch(ws(`/campaigns/${encodeURIComponent(sel.value)}`), { topics: list }), { errorBox, done: "Topics saved" });
    if (saved) Object.assign(campaigns.find((x) => x.id === sel.value) || {}, { topics: list });
  });
  return card("Topics", campaigns.length ? form : h("div", { class: "text-body-secondary" }, "Create a campaign first."));
}

async function plansSection() {
  const [campaigns, accounts] = await Promise.all([listAll(ws("/campaigns")).catch(() => []), listAll(ws("/x/accounts")).catch(() => [])]);
  const errorBox = h("div");
  const box = h("div", { id: "posting-plan-result" });
  const campaign = h("select", { class: "form-select", id: "plan-campaign" }, campaigns.map((c) => h("option", { value: c.id }, `${c.name} (${c.timezone})`)));
  const account = h("select", { class: "form-select", id: "plan-account" }, accounts.map((a) => h("option", { value: a.id }, `@${a.handle}${a.sandbox ? " (sandbox)" : ""}`)));
  const perDay = h("input", { class: "form-control", type: "number", min: 1, max: 100, value: 3, id: "plan-per-day" });
  const from = h("input", { class: "form-control", type: "time", value: "09:00", id: "plan-from" });
  const to = h("input", { class: "form-control", type: "time", value: "18:00", id: "plan-to" });
  const save = editable(h("button", { class: "btn btn-primary", type: "submit" }, icon("calendar-plus"), "Save plan"));
  const form = h(
    "form",
    {},
    errorBox,
    lockForViewer(
      h(
        "fieldset",
        {},
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("Campaign", campaign, "Hours are in the campaign's timezone.")), h("div", { class: "col-md-4" }, field("Account", account)), h("div", { class: "col-md-4" }, field("Posts a day", perDay))),
        h("div", { class: "row" }, h("div", { class: "col-md-4" }, field("From", from)), h("div", { class: "col-md-4" }, field("To", to))),
        save,
      ),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const plan = await act(save, () => post(ws(`/campaigns/${encodeURIComponent(campaign.value)}/plans`), { account_id: account.value, posts_per_day: Number(perDay.value), active_from: from.value, active_to: to.value }), { errorBox, done: "Posting plan saved" });
    if (plan) showPlan(plan);
  });
  // The slots move with the clock: "Refresh" reads the plan again (its next 24 hours).
  const showPlan = (plan) => {
    const again = h("button", { class: "btn btn-sm btn-outline-secondary ms-2", type: "button", id: "plan-refresh" }, icon("arrow-clockwise"), "Refresh");
    again.addEventListener("click", async () => {
      const fresh = await act(again, () => get(ws(`/plans/${encodeURIComponent(plan.id)}`)), { errorBox });
      if (fresh) showPlan(fresh);
    });
    clear(box).append(h("div", { class: "small" }, `${plan.posts_per_day} posts a day, ${plan.active_from}–${plan.active_to} (${plan.timezone}). Next slots: `, (plan.slots || []).map((s) => fmtDate(s, plan.timezone)).join(" · ") || "none in the next 24 h", again));
  };
  if (!campaigns.length || !accounts.length) return card("Posting plan", h("div", { class: "text-body-secondary" }, "Create a campaign and connect an X account first."));
  return card("Posting plan", h("div", {}, canEdit() ? form : h("div", { class: "text-body-secondary" }, "Editors set posting plans."), box));
}

async function membersSection() {
  const errorBox = h("div");
  const box = h("div", { id: "members" });
  const refresh = async () => {
    const members = await listAll(ws("/members"));
    clear(box).append(
      table(
        ["User", "Role", "Since", ""],
        members.map((m) => {
          const role = h("select", { class: "form-select form-select-sm", "aria-label": `Role of ${m.username}` }, ["viewer", "editor", "owner"].map((r) => h("option", { value: r }, r)));
          role.value = m.role;
          role.disabled = !isOwner();
          role.addEventListener("change", () => act(role, () => patch(ws(`/members/${encodeURIComponent(m.user_id)}`), { role: role.value }), { errorBox, done: `${m.username} is now ${role.value}` }).then(refresh));
          const remove = isOwner() ? h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("person-dash"), "Remove") : null;
          remove?.addEventListener("click", () => act(remove, () => del(ws(`/members/${encodeURIComponent(m.user_id)}`)), { errorBox, done: `${m.username} removed` }).then(refresh));
          return h("tr", { dataset: { id: m.user_id } }, h("td", {}, m.username), h("td", {}, role), h("td", { class: "small" }, fmtDate(m.updated_at)), h("td", {}, remove));
        }),
      ),
    );
  };
  // Owners invite by username; the person joins when they accept (nobody is added
  // without consent, and the answer never tells whether the username exists).
  const pending = h("div", { id: "invitations" });
  const refreshInvitations = async () => {
    if (!isOwner()) return;
    const { items } = await get(ws("/invitations"));
    clear(pending);
    if (!items.length) return;
    pending.append(
      h("h3", { class: "h6 mt-3" }, "Pending invitations"),
      table(
        ["User", "Role", "Expires", ""],
        items.map((inv) => {
          const revoke = h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("x-circle"), "Revoke");
          revoke.addEventListener("click", () => act(revoke, () => del(ws(`/invitations/${encodeURIComponent(inv.id)}`)), { errorBox, done: `Invitation for ${inv.username} revoked` }).then(refreshInvitations));
          return h("tr", { dataset: { id: inv.id } }, h("td", {}, inv.username), h("td", {}, inv.role), h("td", { class: "small" }, fmtDate(inv.expires_at)), h("td", {}, revoke));
        }),
      ),
    );
  };
  const username = h("input", { class: "form-control", id: "member-username", placeholder: "username", autocomplete: "off", "aria-label": "Username to invite" });
  const role = h("select", { class: "form-select", id: "member-role", "aria-label": "Role of the invited member" }, ["viewer", "editor", "owner"].map((r) => h("option", { value: r }, r)));
  const add = h("button", { class: "btn btn-primary", type: "submit" }, icon("person-plus"), "Invite");
  const form = h("form", { id: "member-form" }, h("div", { class: "input-group" }, username, role, add));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { username: username.value.trim(), role: role.value };
    const r = await act(add, () => post(ws("/invitations"), body), { errorBox });
    if (r) {
      toast(`${r.username} invited as ${r.role}; they join when they accept`);
      form.reset();
      await refreshInvitations();
    }
  });
  await refreshInvitations().catch((exc) => showError(errorBox, exc));
  await refresh().catch((exc) => showError(errorBox, exc));
  return card("Members and roles", h("div", {}, errorBox, isOwner() ? h("div", { class: "mb-3" }, form, h("div", { class: "form-text" }, "Invite someone by their Herald username: they join when they accept. Owners manage members; editors change content; viewers only look."), pending) : null, box));
}
