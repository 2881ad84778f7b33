// Overview: targets with their reachability and delivery counts by state (per target and rule),
// the activity plot, and the actions that apply to everything (retry all, reconcile dry run).

import { api } from "./api.js";
import { h, resourceHref, table } from "./dom.js";
import { activityPlot } from "./plot.js";

const STATES = [
  ["in_sync", "In sync"],
  ["pending", "Pending"],
  ["retrying", "Retrying"],
  ["failed", "Failed"],
  ["out_of_scope", "Out of scope"],
  ["needs_password", "Needs password"],
];

/** The last dry run's answer, and whether one runs, kept across auto-refreshes of this view. */
let lastReconcile;
let reconciling = false;

/** The embedded slapd's supervision (hooks/ldap/slapd-supervisor.ts): how often it was restarted. */
const restarts = (health) => (health.supervisor?.restarts ? [" ", h("span", { class: "msg" }, `slapd restarted ${health.supervisor.restarts}× (last exit ${health.supervisor.lastExit ?? "?"})`)] : []);

function reachability(health) {
  if (!health) return h("span", { class: "badge state-none" }, "unknown");
  if (health.reachable) return [h("span", { class: "badge state-in_sync" }, "reachable"), " ", h("span", { class: "muted" }, health.url ?? ""), ...restarts(health)];
  return [h("span", { class: "badge state-failed" }, "unreachable"), " ", h("span", { class: "msg" }, health.lastError ?? "")];
}

function countCells(counts) {
  return STATES.map(([k]) => h("td", { class: ["num", counts[k] > 0 && (k === "failed" || k === "retrying" || k === "needs_password") && "warn"] }, counts[k].toLocaleString()));
}

function targetsTable(status, targets) {
  const info = new Map(targets.targets.map((t) => [t.name, t]));
  const rows = status.targets.flatMap((t) => {
    const cfg = info.get(t.name);
    return [
      h("tr", { class: "target", "data-target": t.name }, h("th", { scope: "row" }, t.name, cfg ? h("span", { class: "muted" }, ` (${cfg.directory})`) : null), h("td", null, reachability(cfg?.health)), countCells(t.counts)),
      ...t.rules.map((r) =>
        h("tr", { class: "rule", "data-rule": r.name }, h("th", { scope: "row" }, h("span", { class: "indent" }, "rule "), r.name, r.configured ? null : h("span", { class: "muted" }, " (no longer configured)")), h("td"), countCells(r.counts)),
      ),
    ];
  });
  return table("Targets and rules", ["Target / rule", "Reachability", ...STATES.map(([, label]) => label)], rows, { empty: "No targets configured.", className: "status" });
}

const JWKS_BADGE = { ok: "state-in_sync", stale: "state-retrying", unavailable: "state-failed" };

/** The external issuer's signing keys (auth.jwt): stale means the last good keys are in their grace period. */
function jwksStatus(auth) {
  const j = auth.jwks;
  if (!j) return null;
  return h(
    "p",
    { id: "jwks-state" },
    "External token keys (JWKS): ",
    h("span", { class: `badge ${JWKS_BADGE[j.state] ?? "state-none"}` }, j.state),
    " ",
    h("span", { class: "muted" }, `${j.url}, ${j.keys} keys, last fetched ${j.lastSuccess ?? "never"}`),
    j.lastError ? [" ", h("span", { class: "msg" }, `last error: ${j.lastError}`)] : null,
  );
}

function reconcileResult(result) {
  if (!result) return null;
  if (result.error) return h("p", { class: "error", role: "alert" }, `Reconcile failed: ${result.error}`);
  const rows = result.rules.map((r) =>
    h(
      "tr",
      null,
      h("th", { scope: "row" }, r.rule),
      h("td", null, r.target),
      ["expected", "checked"].map((k) => h("td", { class: "num" }, r[k])),
      ["missing", "extra", "differing", "unmappable"].map((k) => h("td", { class: ["num", r.counts[k] > 0 && "warn"] }, r.counts[k])),
      // Entries under the base that this rule did not write: reported, never deleted unless asked.
      h("td", { class: "num" }, r.counts.unmanaged ?? 0),
      h("td", { class: "msg" }, r.error ?? ""),
    ),
  );
  const details = result.rules.map((r) => {
    const items = [
      ...r.missing.map((m) => h("li", null, "missing ", h("a", { href: resourceHref("User", m.id) }, m.dn))),
      ...r.differing.map((d) => h("li", null, "differing ", h("a", { href: resourceHref("User", d.id) }, d.dn), `: ${d.attributes.map((a) => a.name).join(", ")}`)),
      ...r.extra.map((x) => h("li", null, `extra ${x.dn}`)),
      ...(r.unmanaged ?? []).map((x) => h("li", null, `unmanaged ${x.dn}${x.owner ? ` (written by rule ${x.owner})` : ""}`)),
      ...r.unmappable.map((u) => h("li", null, "unmappable ", h("a", { href: resourceHref("User", u.id) }, u.id), `: ${u.error}`)),
    ];
    return items.length ? h("details", null, h("summary", null, `Rule ${r.rule}: ${items.length} finding${items.length === 1 ? "" : "s"} shown`), h("ul", null, items)) : null;
  });
  return h(
    "div",
    { class: "reconcile-result" },
    h("p", null, `Dry run finished ${new Date(result.at).toLocaleTimeString()}: nothing was changed.`),
    table("Reconcile (dry run)", ["Rule", "Target", "Expected", "In directory", "Missing", "Extra", "Differing", "Unmappable", "Unmanaged", "Error"], rows, { empty: "No rules configured." }),
    details,
  );
}

export async function overview(ctx) {
  const [status, targets, activity, auth] = await Promise.all([api("status"), api("targets"), api("activity", { query: { hours: 24 } }), api("auth")]);
  const failing = status.targets.reduce((n, t) => n + t.counts.failed + t.counts.retrying, 0);

  const retryAll = h("button", { type: "button", id: "retry-all", disabled: failing === 0 }, "Retry all failed");
  retryAll.addEventListener("click", () =>
    ctx.act(retryAll, async () => {
      const { retried } = await api("retry", { method: "POST", body: { all: true } });
      return `${retried} deliver${retried === 1 ? "y" : "ies"} set back to pending.`;
    }),
  );
  const reconcile = h("button", { type: "button", id: "reconcile-dry-run", disabled: reconciling, "aria-busy": reconciling ? "true" : undefined }, reconciling ? "Reconciling…" : "Reconcile (dry run)");
  reconcile.addEventListener("click", () =>
    ctx.act(reconcile, async () => {
      reconciling = true;
      try {
        lastReconcile = { ...(await api("reconcile", { method: "POST", body: {} })), at: new Date().toISOString() };
      } catch (e) {
        lastReconcile = { error: e.message };
      } finally {
        reconciling = false;
      }
      return lastReconcile.error ? "Reconcile dry run failed." : "Reconcile dry run finished.";
    }),
  );

  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Overview"),
    h("section", { "aria-labelledby": "sec-status" }, h("h2", { id: "sec-status" }, "Status at a glance"), targetsTable(status, targets), jwksStatus(auth)),
    h("section", { "aria-labelledby": "sec-activity" }, h("h2", { id: "sec-activity" }, "Deliveries in the last 24 hours"), activityPlot(activity)),
    h(
      "section",
      { "aria-labelledby": "sec-actions" },
      h("h2", { id: "sec-actions" }, "Actions"),
      h("div", { class: "actions" }, retryAll, reconcile),
      h("p", { class: "muted" }, "Retry sets every failed or retrying delivery back to pending with a fresh attempt budget. The reconcile dry run compares each rule's expected entries with its directory and changes nothing."),
      reconcileResult(lastReconcile),
    ),
  );
}
