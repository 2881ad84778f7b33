/** The documents each request shape is labelled with (see docs/research/idp-traffic.md). */
export const SOURCES = {
  rfcCreate: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.3",
  rfcQuery: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.4.2",
  rfcFilter: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.4.2.2",
  rfcPut: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.5.1",
  rfcPatch: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.5.2",
  rfcPatchReplace: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.5.2.3",
  rfcDelete: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.6",
  rfcBulk: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.7",
  rfcDiscovery: "https://datatracker.ietf.org/doc/html/rfc7644#section-4",
  entraCompat: "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility",
  entraTutorial: "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups",
  okta: "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/",
  pingfederate: "https://docs.pingidentity.com/integrations/scim/pf_scim_connector_user_and_group_management.html",
  pingfederateSettings: "https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_scim_connector_settings_reference.html",
  pingoneFilters: "https://docs.pingidentity.com/pingone/integrations/p1_scim_filter_expressions.html",
} as const;
