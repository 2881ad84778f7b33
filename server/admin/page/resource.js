// One user or group: the SCIM resource, per rule (so per target) the delivery state, DN and what
// the next delivery would send, and the history of its SCIM and LDAP writes from the audit log.

import { api, seg } from "./api.js";
import { badge, dl, h, pre, table, time } from "./dom.js";

function nameOf(type, resource) {
  if (!resource) return undefined;
  return type === "User" ? resource.userName : resource.displayName;
}

const values = (vs) => vs.map((v) => h("div", null, v));

/** The mapped entry of an add, the changes of a modify, as tables; other operations as JSON. */
function opBody(op) {
  const { kind, dn: _dn, ...rest } = op;
  if (kind === "add") {
    const rows = Object.entries(op.attributes).map(([name, vs]) => h("tr", null, h("th", { scope: "row" }, name), h("td", null, values(vs))));
    return table(null, ["Attribute", "Values"], rows, { className: "entry" });
  }
  if (kind === "modify") {
    const rows = op.changes.map((c) => h("tr", null, h("td", null, c.operation), h("th", { scope: "row" }, c.attribute), h("td", null, values(c.values))));
    return table(null, ["Change", "Attribute", "Values"], rows, { className: "entry" });
  }
  return Object.keys(rest).length ? pre(rest) : null;
}

function ops(planned) {
  if (!planned) return h("p", { class: "muted" }, "Nothing waiting: the directory entry is what was last written.");
  return h(
    "div",
    { class: "planned" },
    h("h4", null, `Planned operations (${planned.event})`),
    planned.error ? h("p", { class: "error" }, planned.error) : null,
    planned.ops.length
      ? h(
          "ol",
          null,
          planned.ops.map((op) => h("li", null, h("strong", null, op.kind), " ", h("code", null, op.dn), opBody(op))),
        )
      : h("p", { class: "muted" }, "No LDAP operation."),
  );
}

function ruleSection(r) {
  return h(
    "section",
    { class: "rule-card", "data-rule": r.rule, "aria-label": `Rule ${r.rule}` },
    h("h3", null, `Rule ${r.rule} → target ${r.target}`, r.configured ? null : h("span", { class: "muted" }, " (no longer configured)")),
    dl([
      ["State", badge(r.state)],
      ["DN", r.dn ? h("code", null, r.dn) : "—"],
      ["Directory id", r.directoryId ?? "—"],
      ["Attempts", String(r.attempts)],
      ["Last attempt", time(r.lastAttempt)],
      ["Next attempt", time(r.nextAttempt)],
      // A worker of some replica holds the row for delivery (its lease, renewed while it runs).
      ["Being delivered", r.leasedUntil ? h("span", null, "yes, lease until ", time(r.leasedUntil)) : "—"],
      ["LDAP result code", r.lastCode === null ? "—" : h("span", { class: "code" }, String(r.lastCode))],
      ["Error", r.lastError ? h("span", { class: "msg" }, r.lastError) : "—"],
      ["Password", r.passwordPending ? "waiting to be delivered" : "—"],
    ]),
    ops(r.planned),
  );
}

function history(records) {
  const rows = records.map((a) =>
    h(
      "tr",
      { "data-kind": a.kind, "data-outcome": a.outcome },
      h("td", null, time(a.at)),
      h("td", null, a.kind === "ldap" ? "LDAP" : "SCIM"),
      h("td", null, a.client ?? "—"),
      h("td", null, a.operation),
      h("td", null, a.target ?? ""),
      h("td", null, a.dn ? h("code", null, a.dn) : ""),
      h("td", null, h("span", { class: ["outcome", a.outcome === "error" || /^[45]/.test(a.outcome) ? "bad" : "good"] }, a.outcome)),
      h("td", { class: "msg" }, a.detail ?? ""),
    ),
  );
  return table(null, ["Time", "Kind", "Client / rule", "Operation", "Target", "DN", "Outcome", "Detail"], rows, { empty: "No audit records for this resource.", className: "history" });
}

export async function resource(ctx) {
  const [type, id] = ctx.params;
  const [status, audit] = await Promise.all([
    api(`resources/${seg(type)}/${seg(id)}`),
    api("audit", { query: { type, id, order: "desc", limit: 100 } }),
  ]);
  const failing = status.rules.some((r) => r.state === "failed" || r.state === "retrying");
  const retry = h("button", { type: "button", id: "retry-resource", disabled: !failing }, "Retry");
  retry.addEventListener("click", () =>
    ctx.act(retry, async () => {
      const { retried } = await api("retry", { method: "POST", body: { type, id } });
      return `${retried} deliver${retried === 1 ? "y" : "ies"} set back to pending.`;
    }),
  );
  const resync = h("button", { type: "button", id: "resync-resource" }, "Resync");
  resync.addEventListener("click", () =>
    ctx.act(resync, async () => {
      const { change } = await api("resync", { method: "POST", body: { type, id } });
      return `Resync queued (change ${change}): every rule delivers the resource again.`;
    }),
  );
  const name = nameOf(type, status.resource);

  return h(
    "div",
    { class: "resource", "data-type": type, "data-id": id },
    h("p", { class: "crumbs" }, h("a", { href: "#/failures" }, "Failures"), " › ", `${type}/${id}`),
    h("h1", { tabindex: "-1" }, `${type} `, name === undefined ? id : name),
    h("p", { class: "muted" }, `id ${id}`, status.exists ? "" : " — deleted in SCIM; its entries are being deprovisioned"),
    h("div", { class: "actions" }, retry, resync),
    h("section", { "aria-labelledby": "sec-delivery" }, h("h2", { id: "sec-delivery" }, "Delivery per rule"), status.rules.length ? status.rules.map(ruleSection) : h("p", { class: "empty" }, "No rule applies to this resource.")),
    h(
      "section",
      { "aria-labelledby": "sec-scim" },
      h("h2", { id: "sec-scim" }, "SCIM resource"),
      status.resource ? h("details", { open: true }, h("summary", null, "As a SCIM client reads it"), pre(status.resource)) : h("p", { class: "muted" }, "Deleted."),
    ),
    h("section", { "aria-labelledby": "sec-history" }, h("h2", { id: "sec-history" }, "History (newest first)"), history(audit.records)),
  );
}
