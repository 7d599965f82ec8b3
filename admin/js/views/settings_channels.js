// Settings → connecting Bluesky (handle and app password, checked by the account's PDS)
// and Mastodon (OAuth with any instance: the instance sends the browser back to this page
// with ?connect=mastodon&state=…&code=…, or &error=… when the person refused).
import { post, ws } from "../api.js";
import { field, h, icon } from "../dom.js";
import { act, showError, toast } from "../ui.js";

const APP_PASSWORDS_URL = "https://bsky.app/settings/app-passwords";
const DEFAULT_PDS = "https://bsky.social";

/** The admin page's own address, marked so that the return is known to be Mastodon's
 * (X's OAuth 2.0 comes back with ?state&code too). No fragment: OAuth forbids one. */
const mastodonCallback = () => `${location.origin}${location.pathname}?connect=mastodon`;

/** "reconnected" for an account the workspace already had (connecting it again
 * renews its credentials and makes it active: its updated_at moved past created_at). */
const connectedVerb = (a) => (a.created_at && a.updated_at && a.created_at !== a.updated_at ? "reconnected" : "connected");

/** Whether the page was opened by an instance sending the person back. */
export const isMastodonReturn = (q) => q.get("connect") === "mastodon" && q.has("state");

/** The Bluesky form; `onConnected(account)` after the PDS accepted the app password. */
export function blueskyForm(onConnected) {
  const errorBox = h("div", { id: "bsky-errors" });
  const identifier = h("input", { class: "form-control", id: "bsky-identifier", required: true, maxlength: 253, autocomplete: "off", autocapitalize: "off", spellcheck: "false", placeholder: "you.bsky.social" });
  const password = h("input", { class: "form-control", type: "password", id: "bsky-app-password", required: true, maxlength: 100, autocomplete: "off", placeholder: "xxxx-xxxx-xxxx-xxxx" });
  const service = h("input", { class: "form-control", type: "url", id: "bsky-service", maxlength: 200, autocomplete: "off", placeholder: DEFAULT_PDS });
  const passwordHelp = h("span", {}, "Not your account's password: an app password, made in Bluesky under ", h("a", { href: APP_PASSWORDS_URL, target: "_blank", rel: "noopener noreferrer", id: "bsky-app-password-link" }, "Settings → App passwords", icon("box-arrow-up-right")), ". Revoke it there to cut Herald off.");
  const connect = h("button", { class: "btn btn-primary", type: "submit", id: "bsky-connect" }, icon("bluesky"), "Connect Bluesky");
  const form = h(
    "form",
    { id: "bsky-form", novalidate: true, "aria-labelledby": "bsky-title" },
    h("h3", { class: "h6", id: "bsky-title" }, icon("bluesky"), " Bluesky"),
    errorBox,
    field("Handle or email", identifier, "The account's handle (you.bsky.social or your own domain), email or DID."),
    field("App password", password, passwordHelp),
    field("PDS address (optional)", service, `Only for an account hosted on its own server; empty: ${DEFAULT_PDS}.`),
    connect,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { identifier: identifier.value.trim(), app_password: password.value, service_url: service.value.trim() || null };
    if (!body.identifier || !body.app_password) return showError(errorBox, new Error("Type the account's handle and an app password."));
    const account = await act(connect, () => post(ws("/bluesky/accounts"), body), { errorBox });
    if (account) {
      form.reset(); // the app password stays in no field
      toast(`Bluesky account @${account.handle} ${connectedVerb(account)}`);
      await onConnected(account);
    }
    return undefined;
  });
  return form;
}

/** The Mastodon form (the instance's address, then its own authorization page), with
 * `errorBox` where the return's outcome is told too. */
export function mastodonForm() {
  const errorBox = h("div", { id: "mastodon-errors" });
  const instance = h("input", { class: "form-control", type: "url", id: "mastodon-instance", required: true, maxlength: 200, autocomplete: "off", placeholder: "https://mastodon.social" });
  const connect = h("button", { class: "btn btn-primary", type: "submit", id: "mastodon-connect" }, icon("mastodon"), "Connect Mastodon");
  const form = h(
    "form",
    { id: "mastodon-form", novalidate: true, "aria-labelledby": "mastodon-title" },
    h("h3", { class: "h6", id: "mastodon-title" }, icon("mastodon"), " Mastodon"),
    errorBox,
    field("Instance", instance, "Your server's address; it asks you to sign in and to allow Herald to read and post, then sends you back here."),
    connect,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let address = instance.value.trim();
    if (!address) return showError(errorBox, new Error("Type your instance's address, e.g. https://mastodon.social."));
    if (!/^https?:\/\//i.test(address)) address = `https://${address}`; // "mastodon.social" as people write it
    const r = await act(connect, () => post(ws("/mastodon/oauth/begin"), { instance_url: address, callback_url: mastodonCallback() }), { errorBox });
    if (r?.authorization_url) {
      if (!/^https?:\/\//.test(r.authorization_url)) return showError(errorBox, new Error("The API returned an authorization address that is not a web address."));
      location.assign(r.authorization_url);
    }
    return undefined;
  });
  return { form, errorBox };
}

/** Back from the instance: completes the connection (or says why there is none). */
export async function finishMastodon(q, errorBox) {
  if (q.get("error")) {
    const why = q.get("error_description") || q.get("error");
    showError(errorBox, new Error(`The Mastodon instance did not authorize Herald: ${why} No account was connected.`));
    return null;
  }
  if (!q.get("code")) return null;
  const account = await act(null, () => post(ws("/mastodon/oauth/complete"), { state: q.get("state"), code: q.get("code") }), { errorBox });
  if (account) toast(`Mastodon account @${account.handle} ${connectedVerb(account)}`);
  return account || null;
}
