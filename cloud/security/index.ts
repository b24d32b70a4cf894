// Public entry of trust: nkeys and NATS JWTs on node:crypto, the deployment's
// keys (operator, accounts, signing keys), the permission table, device and
// claim credentials, revocation by account push, the provisioning role, and
// the local TLS authority. See docs/security.md.
export { KeyPair, KeyType, encodeSeed, decodeSeed, encodePublicKey, decodePublicKey, isPublicKey, verifySignature } from "./nkeys";
export {
  encodeUserJwt, encodeAccountJwt, encodeOperatorJwt, decodeJwt, credsFile, ConnectionType, unlimitedAccount,
  type Permissions, type SubjectPermission, type UserClaimsInput, type AccountClaimsInput,
} from "./jwt";
export {
  Principal, servicePrincipals, principalPermissions, rolesPermissions, rolesPrincipalName, principalNameBytesMax, devicePermissions, claimPermissions, isServicePrincipal,
  permissionTableMarkdown, deviceSubscriptionsMax, gatewayPermissions, gatewayChildrenMax, gatewaySubscriptionsMax, type ServicePrincipal, type PrincipalPermissions,
} from "./permissions";
export {
  ensureTrust, loadTrustInfo, loadSigningTrust, fleetAccountJwt, natsOperatorConfig, seedFleetAccount, serviceCreds, writeServiceCreds, writeSecret,
  TrustFile, fleetAccountName, type TrustInfo, type SigningTrust, type FullTrust,
} from "./trust";
export { CredentialIssuer, credentialTtlMaxS, type IssuedCredential } from "./issuer";
export { FleetAccountPublisher, AccountPushError, claimsUpdateSubject } from "./account-publisher";
export { RevocationList, RevocationListFull, RevocationKind, revocationsMaxDefault, type RevocationEntry } from "./revocations";
export { Revoker, type RevokerStats } from "./revoker";
export { TrustStore, ClaimState, type ClaimRecord, type DeviceCredentialRecord, type ClaimUse } from "./trust-store";
export { ClaimService, newClaimId, type ClaimServiceStats } from "./claim-service";
export { startProvisioningRole, provisioningServiceName, type ProvisioningRole, type ProvisioningRoleDeps } from "./provisioning-role";
export { defaultProvisioningSettings, provisioningSettingRanges, provisioningSettingProblems, type ProvisioningSettings } from "./settings";
export { TokenBucket, AttemptCounter } from "./rate-limit";
export { ensureLocalTls, localTlsHostsDefault, type LocalTls } from "./tls";
export { trustBucket, claimUsesStream } from "./names";
