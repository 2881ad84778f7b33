/**
 * SCIM errors (RFC 7644 §3.12). Domain code throws ScimError for every known failure; the one
 * error boundary (server/http/error-boundary.ts) renders it. Anything else becomes a logged 500.
 */

/** scimType values from RFC 7644 §3.12 Table 9 and RFC 9865 §2.1 Table 3 (plus none). */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive"
  | "invalidCursor"
  | "expiredCursor"
  | "invalidCount";

export class ScimError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: ScimType | undefined,
    detail: string,
  ) {
    super(detail);
    this.name = "ScimError";
  }

  get detail(): string {
    return this.message;
  }
}

export const badRequest = (scimType: ScimType, detail: string) => new ScimError(400, scimType, detail);
export const notFound = (detail: string) => new ScimError(404, undefined, detail);
export const conflict = (detail: string) => new ScimError(409, "uniqueness", detail);
