//! Every GraphQL document the SDK sends, in one place. They use only the client scope's
//! operations and plain selections (no fragments by name, no directives), so the server's
//! compiled heartbeat path takes the heartbeat document.

/// The selection of a `ClientLicense`, shared by activation and validation.
macro_rules! client_license {
    () => {
        "license { licenseType validUntil features offlineGraceSeconds resources { type value } }"
    };
}

pub const ACTIVATE: &str = concat!(
    "mutation Activate($input: ActivateInput!) { activate(input: $input) { __typename ",
    "... on SessionGranted { sessionToken resumed licenseId deviceId heartbeatIntervalSeconds ",
    "serverTime lease ",
    client_license!(),
    " } ",
    "... on ActivationDenied { reason message retryAfter } } }"
);

pub const HEARTBEAT: &str = "mutation Heartbeat($sessionToken: UUID!) { heartbeat(sessionToken: $sessionToken) { \
     __typename \
     ... on HeartbeatAccepted { heartbeatIntervalSeconds serverTime lease } \
     ... on HeartbeatRefused { reason } } }";

pub const END_SESSION: &str =
    "mutation EndSession($sessionToken: UUID!) { endSession(sessionToken: $sessionToken) { __typename } }";

pub const VALIDATE: &str = concat!(
    "query ValidateLicense($licenseKey: String!, $hardwareFingerprint: String!) { ",
    "validateLicense(licenseKey: $licenseKey, hardwareFingerprint: $hardwareFingerprint) { __typename ",
    "... on LicenseValid { licenseId validUntil deviceLimit concurrentSessionsLimit hasLiveSession serverTime lease ",
    client_license!(),
    " } ",
    "... on LicenseInvalid { reason message } } }"
);

pub const RELEASE_DEVICE: &str = "mutation ReleaseDevice($licenseKey: String!, $hardwareFingerprint: String!) { \
     releaseDevice(licenseKey: $licenseKey, hardwareFingerprint: $hardwareFingerprint) { \
     __typename \
     ... on DeviceReleased { releasedAt } \
     ... on ReleaseDenied { reason retryAfter } } }";
