// Every API endpoint can be served in operator mode: the api role's
// principal (or, for claims and credentials, the provisioning role's) may
// subscribe to its subject. A new endpoint missing from the permission
// table would otherwise start on an open stack and fail on the secured one
// (`xsfleet up`'s default).
import { describe, expect, it } from "vitest";
import { ApiEndpoint } from "../../../cloud/api";
import { Principal, principalPermissions } from "../../../cloud/security";
import { apiSubject } from "../../../cloud/subjects";

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split("."), s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

describe("API endpoints in the permission table", () => {
  it("each endpoint's subject is one the api or provisioning principal may subscribe to", () => {
    const allowed = [...(principalPermissions(Principal.Api).sub.allow ?? []), ...(principalPermissions(Principal.Provisioning).sub.allow ?? [])];
    for (const e of Object.values(ApiEndpoint)) expect(allowed.some((p) => matches(p, apiSubject(e))), e).toBe(true);
    expect(matches(apiSubject("mesh.>"), apiSubject("mesh.counters"))).toBe(true);
    expect(matches(apiSubject("devices.>"), apiSubject("mesh.counters"))).toBe(false);
  });

  it("the dashboard may call exactly edge.jobs, alerts.list, alerts.ack and analytics.windows", () => {
    const allowed = principalPermissions(Principal.Dashboard).pub.allow ?? [];
    const callable = Object.values(ApiEndpoint).filter((e) => allowed.some((p) => matches(p, apiSubject(e)))).sort();
    expect(callable).toEqual(["alerts.ack", "alerts.list", "analytics.windows"]);
    // edge.jobs is served by the recovery agents, not an ApiEndpoint.
    expect(allowed.some((p) => matches(p, apiSubject("edge.jobs")))).toBe(true);
  });
});
