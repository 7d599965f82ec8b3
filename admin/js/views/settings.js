// Settings: accounts: X (OAuth 2.0 with PKCE, OAuth 1.0a, or a labelled sandbox account)
// with tier, pricing, monthly budget and reconnection; Bluesky and Mastodon
// (./settings_channels.js); the workspace's X budget, topics, posting plans, the
// workspace timezone, members and roles.
import { canEdit, del, get, isOwner, listAll, patch, post, put, session, ws } from "../api.js";
import { card, clear, field, fmtDate, h, icon, statusBadge, table } from "../dom.js";
import { act, editable, exportButton, lockForViewer, pageHeader, showError, toast, viewerNotice } from "../ui.js";
import { zoneSelect } from "../zones.js";
import { LABELS } from "./channels.js";
import { networkOf } from "./networks.js";
import { accountSection, newWorkspaceSection } from "./settings_account.js";
import { blueskyForm, finishMastodon, isMastodonReturn, mastodonForm } from "./settings_channels.js";
import { showSpend } from "./spend.js";

const TIERS = ["free", "basic", "pro", "pay_per_use", "enterprise"];

export async function render(root, ctx) {
  root.append(pageHeader("Settings"), viewerNotice());
  const sections = await Promise.all([workspaceSection(), accountsSection(ctx), budgetSection(), topicsSection(), plansSection(), membersSection()]);
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

const POLICIES = [
  ["confirm", "ask before going past"],
  ["refuse", "refuse past it"],
];

/** The admin page's own address: X sends the person back here after its consent page. */
const callbackUrl = () => `${location.origin}${location.pathname}`;

async function beginOAuth2(button, errorBox, body) {
  const r = await act(button, () => post(ws("/x/oauth2/begin"), { callback_url: callbackUrl(), ...body }), { errorBox });
  if (r?.authorization_url) {
    if (!/^https?:\/\//.test(r.authorization_url)) return showError(errorBox, new Error("The API returned an authorization address that is not a web address."));
    location.assign(r.authorization_url);
  }
  return undefined;
}

async function accountsSection() {
  const errorBox = h("div");
  const box = h("div", { id: "x-accounts" });
  const [prices, budgets] = await Promise.all([get(ws("/x/prices")).catch(() => ({ tiers: {} })), get(ws("/x/budget")).catch(() => ({ accounts: {} }))]);
  const refresh = async () => {
    const items = await listAll(ws("/x/accounts"));
    clear(box).append(
      table(
        ["Account", "Kind", "Status", "Tier", "Pricing (USD)", "Budget (USD / month)", ""],
        items.map((a) => {
          const tier = h("select", { class: "form-select form-select-sm", "aria-label": "Tier" }, TIERS.concat(a.sandbox ? ["sandbox"] : []).map((t) => h("option", { value: t }, t)));
          tier.value = a.tier;
          tier.disabled = !canEdit();
          const p = a.pricing || {};
          const num = (k, value, label) => {
            const el = h("input", { class: "form-control form-control-sm", type: "number", step: "0.001", min: 0, value: value ?? "", "aria-label": label || k });
            el.disabled = !isOwner();
            return el;
          };
          const postUsd = num("post_usd", p.post_usd);
          const urlUsd = num("post_with_url_usd", p.post_with_url_usd);
          const monthly = num("monthly_usd", p.monthly_usd);
          const save = editable(h("button", { class: "btn btn-sm btn-outline-primary", type: "button" }, icon("save"), "Save"));
          save.addEventListener("click", () => {
            // Prices equal to the tier's configured ones are not pinned: they follow the configuration.
            const base = prices.tiers?.[tier.value] || {};
            const override = (k, el) => (Number(el.value) === Number(base[k]) ? null : Number(el.value));
            const pricing = { post_usd: override("post_usd", postUsd), post_with_url_usd: override("post_with_url_usd", urlUsd), monthly_usd: override("monthly_usd", monthly) };
            return act(save, () => patch(ws(`/x/accounts/${encodeURIComponent(a.id)}`), { tier: tier.value, pricing }), { errorBox, done: "Account saved" }).then(refresh);
          });
          const limit = budgets.accounts?.[a.id] || {};
          const budget = num("budget", limit.monthly_usd, `Monthly budget of @${a.handle}`);
          budget.classList.add("account-budget");
          budget.placeholder = "none";
          const policy = h("select", { class: "form-select form-select-sm account-budget-policy", "aria-label": `Past the budget of @${a.handle}` }, POLICIES.map(([v, l]) => h("option", { value: v }, l)));
          policy.value = limit.on_exceed || "confirm";
          policy.disabled = !isOwner();
          const saveBudget = isOwner() ? h("button", { class: "btn btn-sm btn-outline-primary account-budget-save", type: "button" }, icon("piggy-bank"), "Set") : null;
          saveBudget?.addEventListener("click", async () => {
            const body = { monthly_usd: budget.value === "" ? null : Number(budget.value), on_exceed: policy.value };
            const saved = await act(saveBudget, () => put(ws(`/x/accounts/${encodeURIComponent(a.id)}/budget`), body), { errorBox, done: "Budget saved" });
            if (saved) Object.assign(budgets, saved);
          });
          const remove = editable(h("button", { class: "btn btn-sm btn-outline-danger", type: "button" }, icon("plug"), "Disconnect"));
          remove.addEventListener("click", () => act(remove, () => del(ws(`/x/accounts/${encodeURIComponent(a.id)}`)), { errorBox, done: "Account disconnected" }).then(refresh));
          // A lost token lineage (or revoked tokens): reconnect with OAuth 2.0, same account.
          const reconnect = !a.sandbox && a.status !== "active" && a.status !== "disconnected" && isOwner() ? h("button", { class: "btn btn-sm btn-warning x-reconnect", type: "button" }, icon("arrow-repeat"), "Reconnect") : null;
          reconnect?.addEventListener("click", () => beginOAuth2(reconnect, errorBox, { tier: a.tier, account_id: a.id }));
          const network = networkOf(a);
          const noFee = network !== "x" ? () => h("span", { class: "small text-body-secondary" }, "no API fee") : null;
          const kind = a.sandbox
            ? h("span", { class: "badge text-bg-warning", dataset: { network } }, `${LABELS[network]} · sandbox`)
            : network !== "x"
              ? h("span", { class: "badge text-bg-primary", dataset: { network } }, LABELS[network] || network)
              : h("span", { class: "badge text-bg-primary", dataset: { network }, title: a.auth === "oauth2" ? "OAuth 2.0 user context" : "OAuth 1.0a user context" }, `X · ${a.auth === "oauth2" ? "OAuth 2.0" : "OAuth 1.0a"}`);
          const state = a.status === "reconnect_needed" ? h("span", { class: "badge text-bg-danger", dataset: { status: a.status } }, "reconnect needed") : statusBadge(a.status);
          return h(
            "tr",
            { dataset: { id: a.id, status: a.status } },
            h("td", {}, `@${a.handle || "?"}`, a.display_name ? h("div", { class: "small text-body-secondary" }, a.display_name) : null),
            h("td", {}, kind),
            h("td", {}, state, a.status_reason ? h("div", { class: "small text-danger status-reason" }, a.status_reason) : null, reconnect),
            // Bluesky and Mastodon: no tiers, prices or budget; the post's length limit instead.
            h("td", {}, noFee ? h("span", { class: "small network-limit" }, `${a.limits?.weighted_length ?? "?"} ${network === "bluesky" ? "graphemes" : "characters"} a post`) : tier),
            h("td", {}, noFee ? noFee() : h("div", { class: "d-flex gap-1" }, h("label", { class: "small" }, "post", postUsd), h("label", { class: "small" }, "with link", urlUsd), h("label", { class: "small" }, "monthly", monthly))),
            h("td", {}, noFee ? noFee() : h("div", { class: "d-flex gap-1 align-items-end" }, budget, policy, saveBudget)),
            h("td", { class: "text-nowrap" }, noFee ? null : save, " ", remove),
          );
        }),
        "No account yet.",
      ),
    );
  };
  const connectTier = h("select", { class: "form-select flex-grow-0 w-auto", id: "x-connect-tier", "aria-label": "Tier of the account to connect" }, TIERS.map((t) => h("option", { value: t }, t)));
  connectTier.value = "pay_per_use";
  const connect2 = editable(h("button", { class: "btn btn-primary", type: "button", id: "x-connect-oauth2", title: "OAuth 2.0 with PKCE, as X recommends for API v2" }, icon("twitter-x"), "Connect an X account"));
  connect2.addEventListener("click", () => beginOAuth2(connect2, errorBox, { tier: connectTier.value }));
  const connect = editable(h("button", { class: "btn btn-outline-primary", type: "button", id: "x-connect", title: "The older OAuth 1.0a handshake" }, "OAuth 1.0a"));
  connect.addEventListener("click", async () => {
    // X sends the browser back to callback_url?oauth_token=…&oauth_verifier=…
    const r = await act(connect, () => post(ws("/x/oauth/begin"), { callback_url: callbackUrl(), tier: connectTier.value }), { errorBox });
    if (r?.authorization_url) {
      if (!/^https:\/\//.test(r.authorization_url)) return showError(errorBox, new Error("The API returned an authorization address that is not https."));
      location.assign(r.authorization_url);
    }
  });
  // A sandbox account of any network: it posts by that network's rules (limits, media).
  const sandboxNetwork = h("select", { class: "form-select flex-grow-0 w-auto", id: "sandbox-network", "aria-label": "Network of the sandbox account" }, Object.entries(LABELS).map(([v, l]) => h("option", { value: v }, l)));
  const sandboxHandle = h("input", { class: "form-control", id: "sandbox-handle", placeholder: "sandbox handle, e.g. herald_demo", "aria-label": "Handle of the sandbox account" });
  const addSandbox = editable(h("button", { class: "btn btn-outline-warning", type: "button", id: "x-sandbox" }, icon("cone-striped"), "Add a sandbox account"));
  addSandbox.addEventListener("click", () => act(addSandbox, () => post(ws("/x/accounts/sandbox"), { handle: sandboxHandle.value.trim() || "herald_sandbox", network: sandboxNetwork.value }), { errorBox, done: `Sandbox ${LABELS[sandboxNetwork.value]} account added` }).then(refresh));
  const sandboxRow = session.sandbox ? h("div", { class: "input-group mt-2" }, sandboxNetwork, sandboxHandle, addSandbox) : null;
  const note = session.sandbox ? h("div", { class: "form-text" }, "Sandbox accounts record posts instead of publishing them; they exist only in the local sandbox.") : null;
  const bluesky = isOwner() ? blueskyForm(refresh) : null;
  const mastodon = isOwner() ? mastodonForm() : null;
  await refresh().catch((exc) => showError(errorBox, exc));
  const q = new URLSearchParams(location.search);
  if (isMastodonReturn(q)) {
    history.replaceState(null, "", `${location.pathname}#/settings`);
    if (mastodon && (await finishMastodon(q, mastodon.errorBox))) await refresh();
  } else await returnFromX(q, errorBox, refresh);
  const others = isOwner() ? h("div", { class: "row g-4 mt-1", id: "connect-networks" }, h("div", { class: "col-md-6" }, bluesky), h("div", { class: "col-md-6" }, mastodon.form)) : null;
  return card("Accounts", h("div", {}, errorBox, box, isOwner() ? h("div", { class: "mt-2" }, h("div", { class: "input-group w-auto flex-wrap" }, connectTier, connect2, connect), sandboxRow, note) : null, others), exportButton("x_accounts"));
}

/** Back from X's consent screen (?oauth_token&oauth_verifier, ?state&code or
 * ?state&error): the API finishes the handshake. */
async function returnFromX(q, errorBox, refresh) {
  const back = q.get("oauth_token") && q.get("oauth_verifier") ? ["/x/oauth/complete", { oauth_token: q.get("oauth_token"), oauth_verifier: q.get("oauth_verifier") }] : q.get("code") && q.get("state") ? ["/x/oauth2/complete", { state: q.get("state"), code: q.get("code") }] : null;
  if (q.get("error") && q.get("state")) showError(errorBox, new Error(`X did not authorize Herald: ${q.get("error_description") || q.get("error")}`));
  if (!back && !q.get("error")) return;
  history.replaceState(null, "", `${location.pathname}#/settings`);
  if (back) await act(null, () => post(ws(back[0]), back[1]), { errorBox, done: "X account connected" });
  await refresh();
}

async function budgetSection() {
  const errorBox = h("div");
  const spendBox = h("div", { id: "x-budget-spend", class: "small mb-3" });
  const budgets = await get(ws("/x/budget")).catch(() => ({}));
  const amount = h("input", { class: "form-control", type: "number", step: "0.01", min: 0, id: "x-budget-usd", placeholder: "none", value: budgets.monthly_usd ?? "" });
  const policy = h("select", { class: "form-select", id: "x-budget-policy" }, POLICIES.map(([v, l]) => h("option", { value: v }, l)));
  policy.value = budgets.on_exceed || "confirm";
  const save = h("button", { class: "btn btn-primary", type: "submit", id: "x-budget-save" }, icon("piggy-bank"), "Save budget");
  const form = h(
    "form",
    { id: "x-budget-form" },
    errorBox,
    spendBox,
    h("fieldset", { disabled: !isOwner() }, h("div", { class: "row" }, h("div", { class: "col-md-6" }, field("Monthly X budget (USD, UTC month)", amount, "Empty: no budget. X bills every post and read; the composer and the calendar show the month's spend.")), h("div", { class: "col-md-6" }, field("Past the budget", policy))), isOwner() ? save : null),
  );
  const showIt = () => showSpend(spendBox, null).catch((exc) => showError(errorBox, exc));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { monthly_usd: amount.value === "" ? null : Number(amount.value), on_exceed: policy.value };
    if (await act(save, () => put(ws("/x/budget"), body), { errorBox, done: "X budget saved" })) await showIt();
  });
  await showIt();
  return card("X budget", form);
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
  if (!campaigns.length || !accounts.length) return card("Posting plan", h("div", { class: "text-body-secondary" }, "Create a campaign and connect an account (X, Bluesky or Mastodon) first."));
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
