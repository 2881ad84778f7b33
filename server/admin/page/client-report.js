// The client conformance report: per client (token name and user agent), each request shape the
// traffic inspector holds, whether it is RFC 7644 as written or a known dialect (with the document
// it comes from), and what scimbridge did with it. Built by the server (GET /admin/api/traffic/conformance).

import { api } from "./api.js";
import { h, table, time } from "./dom.js";

export async function clientReport() {
  const data = await api("traffic/conformance");
  const title = h("h1", { tabindex: "-1" }, "Client conformance");
  if (!data.enabled) return h("div", null, title, h("p", null, "The traffic inspector is off (inspector.enabled: false)."));
  const sections = data.clients.map((c) =>
    h(
      "section",
      null,
      h("h2", null, c.client),
      h("p", { class: "muted" }, `${c.requests} requests, ${c.shapes.length} request shapes`),
      table(
        null,
        ["Request shape", "Seen", "RFC 7644 as written", "Dialect", "What scimbridge did", "Source", "Last seen"],
        c.shapes.map((s) =>
          h(
            "tr",
            null,
            h("td", null, h("code", null, s.shape)),
            h("td", { class: "num" }, s.count),
            h("td", null, s.standard ? "yes" : "no"),
            h("td", null, s.dialect ?? "—"),
            h("td", null, h("span", { class: ["outcome", s.accepted ? "good" : "bad"] }, s.outcome), s.detail ? h("span", { class: "muted" }, ` ${s.detail}`) : null),
            h("td", null, h("a", { href: s.source, rel: "noreferrer noopener", target: "_blank" }, new URL(s.source).hostname)),
            h("td", null, time(s.lastSeen)),
          ),
        ),
        { className: "client-report" },
      ),
    ),
  );
  return h(
    "div",
    null,
    title,
    h("p", { class: "muted" }, "From the requests the traffic inspector holds in memory. The same report on the command line: scimbridge conformance clients."),
    sections.length ? sections : h("p", { class: "empty" }, "No requests recorded yet."),
  );
}
