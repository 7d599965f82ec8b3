// History → a post written for several channels (a post group): each network's result
// (GET .../post-groups/{id}), and cancelling it on every network at once, which asks
// first; a network already out keeps its post and the answer says which and why.
import { get, post, ws } from "../api.js";
import { append, clear, fmtDate, h, icon, statusBadge, table } from "../dom.js";
import { act, confirmButton } from "../ui.js";
import { LABELS } from "./channels.js";
import { networkOf } from "./networks.js";

const CANCELLABLE = new Set(["draft", "approved", "scheduled", "queued"]);
// Why the API kept a network's post (`not_cancelled[].reason` is the post's status then).
const KEPT = { publishing: "being published right now", published: "already published", unconfirmed: "sent, its outcome not confirmed yet", held: "partly published (held)", failed: "already failed", cancelled: "already cancelled" };

/** The group's card (hidden until a group is chosen); `onChange()` after a cancel. */
export function groupPanel(tz, onChange) {
  const body = h("div", { id: "post-group-body" });
  const errorBox = h("div");
  const title = h("h2", { class: "h6 fw-semibold mb-0", id: "post-group-title" }, "Every network of a post");
  const panel = h("section", { class: "card mt-3 d-none", id: "post-group", "aria-labelledby": "post-group-title" }, h("div", { class: "card-header" }, title), h("div", { class: "card-body" }, errorBox, body));

  function draw(group) {
    panel.dataset.group = group.group_id;
    const rows = group.posts.map((p) => {
      const r = p.result || {};
      return h(
        "tr",
        { dataset: { network: r.network, id: p.id, status: r.status } },
        h("td", {}, h("span", { class: "badge text-bg-light border" }, r.label || LABELS[r.network] || r.network)),
        h("td", { class: "small" }, r.handle ? `@${r.handle}` : ""),
        h("td", {}, statusBadge(r.status), p.sandbox ? h("span", { class: "badge text-bg-warning ms-1" }, "sandbox") : null),
        h("td", { class: "small text-nowrap" }, fmtDate(r.published_at || p.due_at, p.timezone || tz)),
        h("td", { class: "small" }, r.url ? h("a", { href: r.url, target: "_blank", rel: "noopener noreferrer" }, icon("box-arrow-up-right"), " view") : (r.ids || []).length ? `#${r.ids[0]}` : ""),
        h("td", { class: "small group-result" }, r.error || ""),
      );
    });
    const kept = (group.not_cancelled || []).map((k) => h("li", { dataset: { network: networkOf(k) } }, `${LABELS[networkOf(k)] || k.network}: ${KEPT[k.reason] || k.reason}, not cancelled`));
    const cancellable = group.posts.some((p) => CANCELLABLE.has(p.status));
    const cancel = cancellable ? confirmButton("Cancel on every network", "Confirm: cancel on every network", "danger", (b) => cancelAll(b, group.group_id)) : null;
    if (cancel) cancel.id = "post-group-cancel";
    // dom.append skips the absent parts (Element.append would print null).
    append(clear(body), [
      h("p", { class: "small mb-2" }, `${group.posts.length} networks · `, statusBadge(group.status), group.due_at ? ` · due ${fmtDate(group.due_at, tz)}` : ""),
      table(["Network", "Account", "Status", "When", "Link", "Result"], rows),
      group.not_cancelled ? h("div", { class: "alert alert-secondary small py-2", id: "post-group-outcome", role: "status" }, kept.length ? [h("div", {}, "Cancelled where it had not gone out. Kept:"), h("ul", { class: "mb-0" }, kept)] : "Cancelled on every network.") : null,
      cancel,
    ]);
  }

  async function cancelAll(button, groupId) {
    const answer = await act(button, () => post(ws(`/post-groups/${encodeURIComponent(groupId)}/cancel`), {}), { errorBox, done: "Post group cancelled" });
    if (answer) {
      draw(answer);
      await onChange();
    }
  }

  async function show(groupId) {
    const group = await act(null, () => get(ws(`/post-groups/${encodeURIComponent(groupId)}`)), { errorBox });
    panel.classList.remove("d-none");
    if (group) draw(group);
    panel.scrollIntoView({ block: "nearest" });
  }

  return { panel, show };
}
