/** Authentication: schemes compare case-insensitively; a refusal is a 401 with a challenge and a SCIM body. */
import type { Check } from "../types.js";
import { body, expectStatus, RFC7235, RFC7644, scimError } from "./support.js";
import { attr } from "../compare.js";

export const authChecks: Check[] = [
  {
    id: "auth.scheme-case-insensitive",
    area: "auth",
    title: "the auth scheme is accepted in lower case (bearer / basic)",
    // RFC 7235 §2.1: "It uses a case-insensitive token as a means to identify the authentication scheme".
    source: `${RFC7235}#section-2.1`,
    level: "must",
    async run(http) {
      const [scheme, rest] = [http.authorization.split(" ")[0]!, http.authorization.slice(http.authorization.indexOf(" "))];
      const res = await http.send({ method: "GET", path: "/Users?count=1", authorization: `${scheme.toLowerCase()}${rest}` });
      return expectStatus(res, 200);
    },
  },
  {
    id: "auth.no-credentials-401-challenge",
    area: "auth",
    title: "no credentials: 401 with WWW-Authenticate",
    // RFC 7235 §3.1: a 401 "MUST send a WWW-Authenticate header field".
    source: `${RFC7235}#section-3.1`,
    level: "must",
    async run(http) {
      const res = await http.send({ method: "GET", path: "/Users", anonymous: true });
      return expectStatus(res, 401) ?? (res.headers.get("www-authenticate") ? undefined : "the 401 has no WWW-Authenticate header");
    },
  },
  {
    id: "auth.401-scim-error-body",
    area: "auth",
    title: "a refused request carries a SCIM Error body",
    // RFC 7644 §3.12: implementers MUST return errors in the body as a SCIM Error.
    source: `${RFC7644}#section-3.12`,
    level: "must",
    async run(http) {
      const res = await http.send({ method: "GET", path: "/Users", authorization: "Bearer not-a-valid-token-0000" });
      return scimError(res, 401);
    },
  },
  {
    id: "discovery.spc-authentication-schemes",
    area: "discovery",
    title: "/ServiceProviderConfig lists authenticationSchemes",
    source: `${RFC7644}#section-4`,
    level: "must",
    async run(http) {
      const res = await http.send({ method: "GET", path: "/ServiceProviderConfig" });
      return expectStatus(res, 200) ?? (Array.isArray(attr(body(res), "authenticationSchemes")) ? undefined : "no authenticationSchemes array");
    },
  },
];
