/** JUnit XML for CI: one testcase per step; fail is a <failure>, skip a <skipped>, warn passes with its reason in <system-out>. */
import type { Counts, StepRecord } from "./runner.js";

/** Characters XML 1.0 cannot carry, even escaped (a response body may hold them). */
const notXml = (c: string) => {
  const code = c.charCodeAt(0);
  return code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d;
};

const escape = (s: string) =>
  [...s]
    .filter((c) => !notXml(c))
    .join("")
    .replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);

export function junitXml(records: StepRecord[], counts: Counts): string {
  const total = records.length;
  const cases = records.map((r) => {
    const open = `    <testcase classname="${escape(r.area)}" name="${escape(r.id)}" time="${(r.ms / 1000).toFixed(3)}">`;
    const detail = [r.reason, r.request && `request: ${r.request}`, r.response && `response: ${r.response}`, `source: ${r.source}`].filter(Boolean).join("\n");
    if (r.outcome === "fail") return `${open}\n      <failure message="${escape(r.reason ?? "")}" type="MUST">${escape(detail)}</failure>\n    </testcase>`;
    if (r.outcome === "skip") return `${open}\n      <skipped message="${escape(r.reason ?? "")}"/>\n    </testcase>`;
    if (r.outcome === "warn") return `${open}\n      <system-out>${escape(`WARN (SHOULD): ${detail}`)}</system-out>\n    </testcase>`;
    return `${open}</testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="scimbridge conformance" tests="${total}" failures="${counts.failed}" skipped="${counts.skipped}">`,
    `  <testsuite name="scimbridge conformance" tests="${total}" failures="${counts.failed}" errors="0" skipped="${counts.skipped}">`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
