/**
 * The read side reconcile relies on, without a directory: each preset's account state as read
 * back (isDisabled), and LDAP errors described for a person.
 */
import { InvalidCredentialsError } from "ldapts";
import { describe, expect, it } from "vitest";
import { LdapConnectionError, describeLdapError } from "../../hooks/ldap/errors.js";
import { PRESETS } from "../../hooks/rules/presets.js";

describe("Preset.isDisabled reads what disable writes", () => {
  const cases: [keyof typeof PRESETS, Record<string, string[]>, Record<string, string[]>][] = [
    ["openldap", { pwdaccountlockedtime: ["000001010000Z"] }, {}],
    ["pingdirectory", { "ds-pwp-account-disabled": ["TRUE"] }, { "ds-pwp-account-disabled": ["false"] }],
    ["active-directory", { useraccountcontrol: ["514"] }, { useraccountcontrol: ["512"] }],
  ];
  it.each(cases)("%s", (name, disabled, enabled) => {
    const preset = PRESETS[name];
    expect(preset.stateAttributes.length).toBe(1);
    expect(preset.isDisabled(disabled)).toBe(true);
    expect(preset.isDisabled(enabled)).toBe(false);
  });
});

describe("describeLdapError", () => {
  it("names the result code and keeps the server's diagnostic, never ldapts's bare hex code", () => {
    expect(describeLdapError(new InvalidCredentialsError("80090308: LdapErr: DSID-0C09044E"))).toBe("49 invalidCredentials: 80090308: LdapErr: DSID-0C09044E");
    const bind = new LdapConnectionError("LDAP target corp: cannot connect and bind (ldap://dc1:389:  Code: 0x31)", { transient: false, code: 49, cause: new InvalidCredentialsError("") });
    expect(describeLdapError(bind)).toBe("LDAP target corp: cannot connect and bind: 49 invalidCredentials: (no diagnostic message from the server)");
    expect(describeLdapError(new Error("connect ECONNREFUSED 127.0.0.1:1"))).toBe("connect ECONNREFUSED 127.0.0.1:1");
  });
});
