// The traffic inspector (the last SCIM requests in memory, secrets redacted by the server) and
// the audit log (SCIM and LDAP writes), newest first. Not auto-refreshed: rows would move while
// being read; the Refresh button reloads them.

import { api } from "./api.js";
import { h, pre, resourceHref, table, time } from "./dom.js";

const trafficFilter = { status: "", client: "" };
const open = new Set();

function form(label, fields, onApply) {
  const f = h("form", { class: "filters", "aria-label": label }, fields, h("button", { type: "submit" }, "Apply"));
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    onApply();
  });
  return f;
}

export async function traffic(ctx) {
  const data = await api("traffic", { query: { limit: 100, ...trafficFilter } });
  if (!data.enabled) return h("div", null, h("h1", { tabindex: "-1" }, "Traffic"), h("p", null, "The traffic inspector is off (inspector.enabled: false)."));
  const status = h("input", { id: "t-status", inputmode: "numeric", size: 4, value: trafficFilter.status });
  const client = h("input", { id: "t-client", size: 12, value: trafficFilter.client });
  const rows = data.records.flatMap((r, i) => {
    const key = r.requestId ?? `${r.time}-${i}`;
    const detailId = `traffic-detail-${i}`;
    const shown = open.has(key);
    const detail = h(
      "tr",
      { id: detailId, class: "detail", hidden: !shown },
      h(
        "td",
        { colspan: 7 },
        h("p", { class: "muted" }, `request id ${r.requestId ?? "—"} · user agent ${r.userAgent ?? "—"}`),
        h("div", { class: "bodies" }, h("div", null, h("h3", null, "Request body"), pre(r.requestBody ?? "(none)")), h("div", null, h("h3", null, "Response body"), pre(r.responseBody ?? "(none)"))),
      ),
    );
    const toggle = h("button", { type: "button", class: "small", "aria-expanded": String(shown), "aria-controls": detailId }, "Bodies");
    toggle.addEventListener("click", () => {
      const now = !open.has(key);
      if (now) open.add(key);
      else open.delete(key);
      detail.hidden = !now;
      toggle.setAttribute("aria-expanded", String(now));
    });
    return [
      h(
        "tr",
        { class: "request" },
        h("td", null, time(r.time)),
        h("td", null, r.client ?? "—"),
        h("td", null, r.method),
        h("td", null, h("code", null, r.path)),
        h("td", { class: ["num", r.status >= 400 && "warn"] }, r.status),
        h("td", { class: "num" }, `${r.durationMs} ms`),
        h("td", null, toggle),
      ),
      detail,
    ];
  });
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Traffic"),
    h("p", { class: "muted" }, `The last ${data.size} SCIM requests are kept in memory; passwords, tokens and secrets are redacted.`),
    form("Filter traffic", [h("label", { for: "t-status" }, "Status"), status, h("label", { for: "t-client" }, "Client"), client], () => {
      Object.assign(trafficFilter, { status: status.value.trim(), client: client.value.trim() });
      ctx.refresh();
    }),
    table(null, ["Time", "Client", "Method", "Path", "Status", "Duration", ""], rows, { empty: "No requests recorded yet.", className: "traffic" }),
  );
}

const auditFilter = { kind: "" };

export async function audit(ctx) {
  const data = await api("audit", { query: { order: "desc", limit: 200, kind: auditFilter.kind } });
  const kind = h(
    "select",
    { id: "a-kind" },
    [
      ["", "SCIM and LDAP"],
      ["scim", "SCIM writes"],
      ["ldap", "LDAP writes"],
    ].map(([v, label]) => h("option", { value: v, selected: v === auditFilter.kind }, label)),
  );
  const rows = data.records.map((a) =>
    h(
      "tr",
      { "data-kind": a.kind },
      h("td", null, time(a.at)),
      h("td", null, a.kind === "ldap" ? "LDAP" : "SCIM"),
      h("td", null, a.client ?? "—"),
      h("td", null, a.operation),
      h("td", null, a.resourceType && a.resourceId && (a.resourceType === "User" || a.resourceType === "Group") ? h("a", { href: resourceHref(a.resourceType, a.resourceId) }, `${a.resourceType}/${a.resourceId}`) : (a.resourceType ?? "")),
      h("td", null, a.target ?? ""),
      h("td", null, a.dn ? h("code", null, a.dn) : ""),
      h("td", null, h("span", { class: ["outcome", a.outcome === "error" || /^[45]/.test(a.outcome) ? "bad" : "good"] }, a.outcome)),
      h("td", { class: "msg" }, a.detail ?? ""),
    ),
  );
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Audit log"),
    h("p", { class: "muted" }, "The newest 200 records. The whole log: scimbridge audit export, or GET /admin/api/audit with Accept: application/x-ndjson."),
    form("Filter the audit log", [h("label", { for: "a-kind" }, "Kind"), kind], () => {
      auditFilter.kind = kind.value;
      ctx.refresh();
    }),
    table(null, ["Time", "Kind", "Client / rule", "Operation", "Resource", "Target", "DN", "Outcome", "Detail"], rows, { empty: "No audit records.", className: "audit" }),
  );
}
