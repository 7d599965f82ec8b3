// Entry point: configuration, login, the application shell and the hash router.
import { ApiError, get, keepSignedIn, loadConfig, onUnauthenticated, post, session, setToken, setWorkspace } from "./api.js";
import { $, clear, h } from "./dom.js";
import { showError, toast } from "./ui.js";
import { setActivity } from "./views/dashboard.js";
import { loadZones } from "./zones.js";

const ROUTES = {
  dashboard: () => import("./views/dashboard.js"),
  analytics: () => import("./views/analytics.js"),
  campaigns: () => import("./views/campaigns.js"),
  compose: () => import("./views/compose.js"),
  calendar: () => import("./views/calendar.js"),
  drafts: () => import("./views/drafts.js"),
  history: () => import("./views/history.js"),
  series: () => import("./views/series.js"),
  templates: () => import("./views/templates.js"),
  media: () => import("./views/media.js"),
  email: () => import("./views/email.js"),
  jobs: () => import("./views/jobs.js"),
  settings: () => import("./views/settings.js"),
};

let current = null; // {timers, cleanups}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const [name, ...rest] = path.split("/").filter(Boolean);
  return { name: name && ROUTES[name] ? name : "dashboard", rest, params: new URLSearchParams(qs || "") };
}

function leaveView() {
  if (!current) return;
  current.timers.forEach(clearInterval);
  current.cleanups.forEach((fn) => {
    try {
      fn();
    } catch {
      /* a view's cleanup must not block navigation */
    }
  });
  current = null;
}

async function route() {
  if (!session.token || !session.me) return;
  leaveView();
  const { name, rest, params } = parseHash();
  document.querySelectorAll("[data-route]").forEach((a) => {
    a.classList.toggle("active", a.dataset.route === name);
    if (a.dataset.route === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  // On a phone the section menu folds away once a section is chosen.
  // A tap while it is still unfolding hides it once it has (Bootstrap ignores hide()
  // mid-transition).
  const menu = $("#app-sections");
  const fold = window.bootstrap?.Collapse.getOrCreateInstance(menu, { toggle: false });
  const opening = menu.classList.contains("collapsing") && $("#nav-toggle").getAttribute("aria-expanded") === "true";
  if (opening) menu.addEventListener("shown.bs.collapse", () => fold?.hide(), { once: true });
  else if (menu.classList.contains("show")) fold?.hide();
  const view = $("#view");
  clear(view).append(h("div", { class: "text-body-secondary" }, h("span", { class: "spinner-border spinner-border-sm me-2" }), "Loading…"));
  const ctx = {
    rest,
    params,
    timers: [],
    cleanups: [],
    /** Runs fn now and every ms while the view is shown; errors go to the console only. */
    every(fn, ms) {
      const tick = async () => {
        if (document.hidden) return;
        try {
          await fn();
        } catch (exc) {
          if (!(exc instanceof ApiError) || exc.status !== 401) console.warn(exc);
        }
      };
      this.timers.push(setInterval(tick, ms));
      return tick();
    },
    onLeave(fn) {
      this.cleanups.push(fn);
    },
  };
  current = ctx;
  try {
    const mod = await ROUTES[name]();
    if (current !== ctx) return;
    const root = h("div", { id: `view-${name}`, class: "view" });
    clear(view).append(root);
    await mod.render(root, ctx);
  } catch (exc) {
    if (current !== ctx) return;
    clear(view);
    showError(view, exc);
  }
}

/** Invitations addressed to me, each with Accept and Decline; `onChange` after either. */
function invitationList(items, onChange) {
  return h(
    "ul",
    { class: "list-group" },
    items.map((inv) => {
      const accept = h("button", { class: "btn btn-sm btn-primary", type: "button", dataset: { action: "accept" } }, "Accept");
      const decline = h("button", { class: "btn btn-sm btn-outline-secondary", type: "button", dataset: { action: "decline" } }, "Decline");
      const answer = (verb, button) => async () => {
        button.disabled = true;
        try {
          await post(`/invitations/${encodeURIComponent(inv.id)}/${verb}`, {});
          toast(verb === "accept" ? `You joined ${inv.workspace_name} as ${inv.role}` : `Invitation to ${inv.workspace_name} declined`);
          await onChange();
        } catch (exc) {
          toast(exc instanceof ApiError ? exc.describe() : String(exc), "danger");
          button.disabled = false;
        }
      };
      accept.addEventListener("click", answer("accept", accept));
      decline.addEventListener("click", answer("decline", decline));
      return h(
        "li",
        { class: "list-group-item d-flex align-items-center gap-2 flex-wrap", dataset: { id: inv.id } },
        h("span", { class: "me-auto" }, "Join ", h("strong", {}, inv.workspace_name), ` as ${inv.role}`),
        accept,
        decline,
      );
    }),
  );
}

async function showInvitations(items) {
  const banner = $("#invitations-banner");
  clear(banner).classList.toggle("d-none", !items.length);
  if (items.length) banner.append(h("div", { class: "alert alert-info mb-0" }, h("div", { class: "mb-2" }, "You have been invited:"), invitationList(items, showApp)));
}

async function loadMe() {
  const me = await get("/auth/me");
  session.me = me;
  keepSignedIn(me.token_expires_at);
  const workspaces = me.workspaces || [];
  const invitations = (await get("/invitations").catch(() => ({ items: [] }))).items || [];
  if (!workspaces.length) {
    if (invitations.length) return { invitations, waiting: true };
    throw new ApiError(403, "no_workspace", "This account is not a member of any workspace yet. Ask an owner to invite you, then sign in again.");
  }
  await showInvitations(invitations);
  const chosen = workspaces.find((w) => (w.id || w.workspace_id) === session.workspaceId) || workspaces[0];
  applyWorkspace(chosen);
  const select = clear($("#workspace-select"));
  for (const w of workspaces) {
    const id = w.id || w.workspace_id;
    select.append(h("option", { value: id, selected: id === session.workspaceId }, w.name || id));
  }
  $("#whoami").textContent = me.user?.username || me.username || "";
  // Awaited: views read session.sandbox when they render (Settings shows the sandbox
  // account form only then), so it must be known before the first one does.
  const sys = await get(`/workspaces/${encodeURIComponent(session.workspaceId)}/system`).catch(() => null);
  session.sandbox = Boolean(sys?.sandbox);
  $("#sandbox-badge").classList.toggle("d-none", !session.sandbox);
  return { invitations, waiting: false };
}

function applyWorkspace(w) {
  setWorkspace(w.id || w.workspace_id);
  session.workspace = w;
  session.role = w.role || "viewer";
  document.body.dataset.role = session.role;
  document.body.classList.toggle("read-only", session.role === "viewer");
  $("#role-badge").textContent = session.role;
}

function showLogin(message) {
  leaveView();
  clearInterval(activityTimer);
  session.me = null;
  $("#app-view").classList.add("d-none");
  $("#invite-view").classList.add("d-none");
  $("#login-view").classList.remove("d-none");
  const err = $("#login-error");
  err.textContent = message || "";
  err.classList.toggle("d-none", !message);
  $("#login-username").focus();
}

// The top bar's "sending / posting" badge stays live on every screen (the dashboard
// refreshes it itself every 5 s; elsewhere a one-day dashboard read every 10 s).
let activityTimer = null;
function watchActivity() {
  clearInterval(activityTimer);
  activityTimer = setInterval(async () => {
    if (!session.token || !session.me || document.hidden || parseHash().name === "dashboard") return;
    try {
      const d = await get(`/workspaces/${encodeURIComponent(session.workspaceId)}/dashboard`, { days: 1 });
      setActivity(d.activity);
    } catch {
      /* the badge keeps its last state */
    }
  }, 10_000);
}

async function showApp() {
  // Every timezone list and time conversion needs the server's zones: load them first.
  const [state] = await Promise.all([loadMe(), loadZones()]);
  $("#login-view").classList.add("d-none");
  if (state.waiting) {
    // Signed in, in no workspace yet: only the invitations to answer.
    $("#app-view").classList.add("d-none");
    $("#invite-view").classList.remove("d-none");
    // Declining the last one leaves no workspace: back to the sign-in form, saying so.
    const next = () =>
      showApp().catch((exc) => {
        setToken("");
        showLogin(exc instanceof ApiError ? exc.describe() : String(exc));
      });
    clear($("#invite-list")).append(invitationList(state.invitations, next));
    return;
  }
  $("#invite-view").classList.add("d-none");
  watchActivity();
  $("#app-view").classList.remove("d-none");
  // Back from X's consent screen (OAuth 1.0a: ?oauth_token=…&oauth_verifier=…; OAuth 2.0:
  // ?state=…&code=… or ?state=…&error=…): Settings finishes it.
  const back = new URLSearchParams(location.search);
  if (back.has("oauth_verifier") || (back.has("state") && (back.has("code") || back.has("error")))) location.hash = "#/settings";
  else if (!location.hash) location.hash = "#/dashboard";
  await route();
}

async function onLogin(event) {
  event.preventDefault();
  const button = $("#login-submit");
  const err = $("#login-error");
  err.classList.add("d-none");
  const username = $("#login-username").value.trim();
  const password = $("#login-password").value;
  if (!username || !password) {
    err.textContent = "Enter your username and password.";
    err.classList.remove("d-none");
    return;
  }
  button.disabled = true;
  try {
    const data = await post("/auth/login", { username, password });
    setToken(data.token || data.access_token);
    $("#login-password").value = "";
    await showApp();
  } catch (exc) {
    setToken("");
    err.textContent = exc instanceof ApiError ? exc.describe() : String(exc);
    err.classList.remove("d-none");
  } finally {
    button.disabled = false;
  }
}

async function onLogout() {
  try {
    await post("/auth/logout", {});
  } catch {
    /* the token is dropped locally either way */
  }
  setToken("");
  showLogin("");
}

async function start() {
  $("#login-form").addEventListener("submit", onLogin);
  $("#logout").addEventListener("click", onLogout);
  $("#invite-logout").addEventListener("click", onLogout);
  $("#workspace-select").addEventListener("change", (e) => {
    const w = (session.me?.workspaces || []).find((x) => (x.id || x.workspace_id) === e.target.value);
    if (w) {
      applyWorkspace(w);
      route();
    }
  });
  window.addEventListener("hashchange", route);
  onUnauthenticated(() => {
    setToken("");
    showLogin("Your session has ended. Please sign in again.");
  });
  try {
    await loadConfig();
  } catch (exc) {
    showLogin(String(exc.message || exc));
    return;
  }
  if (!session.token) {
    showLogin("");
    return;
  }
  try {
    await showApp();
  } catch (exc) {
    setToken("");
    showLogin(exc instanceof ApiError && exc.status !== 401 ? exc.describe() : "");
  }
}

export { route };
window.addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof ApiError) {
    toast(e.reason.describe(), "danger");
    e.preventDefault();
  }
});
document.documentElement.dataset.ready = "loading";
start().finally(() => {
  document.documentElement.dataset.ready = "1";
});
