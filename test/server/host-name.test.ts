/** hostNameOf: the host name in a Host header value, or undefined when it is not one (server/http/host.ts). */
import { describe, expect, it } from "vitest";
import { hostNameOf } from "../../server/http/host.js";

describe("hostNameOf", () => {
  it.each([
    ["scim.example.com", "scim.example.com"],
    ["Scim.Example.com:8443", "scim.example.com"],
    ["[::1]:8080", "::1"],
    ["evil.test/path", undefined],
    ["a@b", undefined],
  ])("%j: %j", (host, name) => {
    expect(hostNameOf(host)).toBe(name);
  });
});
