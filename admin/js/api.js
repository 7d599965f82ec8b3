// The API client: one place that knows the base URL, the bearer token, the workspace and
// the error shape {"error": {"code", "message", "details"}}.

const TOKEN_KEY = "herald.token";
const WORKSPACE_KEY = "herald.workspace";

let apiBase = "";
let refreshTimer = null; // keepSignedIn's
export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  workspaceId: localStorage.getItem(WORKSPACE_KEY) || "",
  me: null,
  role: "viewer",
  workspace: null,
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** One readable sentence, with the field-level details a person can act on. */
  describe() {
    const parts = [this.message];
    const d = this.details;
    if (Array.isArray(d)) {
      for (const item of d.slice(0, 8)) parts.push(describeDetail(item));
    } else if (d && typeof d === "object") {
      for (const [key, value] of Object.entries(d).slice(0, 8)) {
        // `where` and ids point the page at what to fix (ui.showError): not for reading.
        if (key === "where" || key.endsWith("_id")) continue;
        if (typeof value === "string" || typeof value === "number") parts.push(`${key}: ${value}`);
      }
    }
    return parts.filter(Boolean).join(" — ");
  }
}

function describeDetail(item) {
  if (typeof item === "string") return item;
  if (item && typeof item === "object") {
    const where = item.field || item.path || item.loc || item.row;
    const what = item.message || item.msg || item.error || JSON.stringify(item);
    return where !== undefined ? `${where}: ${what}` : what;
  }
  return String(item);
}

export async function loadConfig() {
  const resp = await fetch("config.json", { cache: "no-store" });
  if (!resp.ok) throw new Error(`config.json could not be loaded (HTTP ${resp.status})`);
  const config = await resp.json();
  apiBase = String(config.apiUrl || "").replace(/\/+$/, "");
  return config;
}

export function apiUrl(path) {
  return `${apiBase}/api/v1${path}`;
}

export function setToken(token) {
  session.token = token || "";
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else {
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(refreshTimer);
  }
}

export function setWorkspace(id) {
  session.workspaceId = id;
  localStorage.setItem(WORKSPACE_KEY, id);
}

/**
 * Keeps the person signed in while the page is open: the token (valid one hour) is
 * traded for a fresh one five minutes before it expires (POST /auth/refresh). After the
 * session's 12-hour limit the API refuses and the next call sends them to the login.
 */
export function keepSignedIn(expiresAt) {
  clearTimeout(refreshTimer);
  if (!expiresAt) return;
  const due = new Date(expiresAt).getTime() - Date.now() - 5 * 60_000;
  refreshTimer = setTimeout(async () => {
    try {
      const fresh = await request("POST", "/auth/refresh", {});
      setToken(fresh.token);
      keepSignedIn(fresh.expires_at);
    } catch {
      /* the next call answers 401 and the login form says why */
    }
  }, Math.max(10_000, due));
}

/** Listeners called when the API says the token is no longer good (expired, logged out). */
const unauthenticatedListeners = [];
export function onUnauthenticated(fn) {
  unauthenticatedListeners.push(fn);
}

/**
 * Calls the API. body: a plain object (sent as JSON), FormData (multipart) or undefined.
 * Resolves to the parsed JSON (or null for 204); rejects with ApiError.
 */
export async function request(method, path, body, { query } = {}) {
  const resp = await send(method, path, body, { query, accept: "application/json" });
  if (resp.status === 204) return null;
  const text = await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A file the API serves behind the token (media bytes, a CSV export) as a File: the
 * bytes, their type, and the name Content-Disposition gives ("" without one). Fails as
 * request() does, a 401 included. */
export async function fetchBlob(path) {
  const resp = await send("GET", path, undefined, { accept: "*/*" });
  const name = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "")?.[1] || "";
  const blob = await resp.blob();
  return new File([blob], name, { type: blob.type });
}

/** Downloads a file the API serves (a CSV export) under the name it gives. */
export async function download(path) {
  const file = await fetchBlob(path);
  const name = file.name || "export.csv";
  const url = URL.createObjectURL(file);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

/** The one fetch behind every call: the bearer token; an answer that is not ok becomes
 * an ApiError from the API's error shape, and a 401 while signed in tells the
 * onUnauthenticated listeners. Resolves to the ok Response. */
async function send(method, path, body, { query, accept }) {
  let url = apiUrl(path);
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Accept: accept };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let payload;
  if (body instanceof FormData || body instanceof Blob) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: payload, mode: "cors", credentials: "omit" });
  } catch (exc) {
    throw new ApiError(0, "network", `The API at ${apiBase || "(not configured)"} cannot be reached. Is Herald running?`, String(exc));
  }
  if (resp.ok) return resp;
  let err = {};
  try {
    err = JSON.parse(await resp.text()).error || {};
  } catch {
    /* not the API's JSON (a proxy's page, an empty body) */
  }
  const apiError = new ApiError(resp.status, err.code || `http_${resp.status}`, err.message || `The API answered HTTP ${resp.status} ${resp.statusText}`.trim(), err.details);
  if (resp.status === 401 && session.token) unauthenticatedListeners.forEach((fn) => fn(apiError));
  throw apiError;
}

export const get = (path, query) => request("GET", path, undefined, { query });
export const post = (path, body) => request("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => request("PATCH", path, body);
export const put = (path, body) => request("PUT", path, body);
export const del = (path) => request("DELETE", path);

/** A path under the current workspace. */
export function ws(path = "") {
  return `/workspaces/${encodeURIComponent(session.workspaceId)}${path}`;
}

/** Lists a collection: {items, next_cursor}. */
export async function list(path, query = {}) {
  const data = await get(path, query);
  if (Array.isArray(data)) return { items: data, next_cursor: null };
  return { items: data?.items || data?.data || [], next_cursor: data?.next_cursor || data?.next || null };
}

/** Every page of a collection (bounded: the admin page never needs more than `max`). */
export async function listAll(path, query = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await list(path, { ...query, cursor: cursor || undefined });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

export function canEdit() {
  return session.role === "owner" || session.role === "editor";
}

export function isOwner() {
  return session.role === "owner";
}
