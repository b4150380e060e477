//! The retry contract: the `type_name` of every failure an activity returns on purpose, and
//! which of them no retry can fix (ARCHITECTURE.md, "The retry contract").

/// A command with no read-only API call behind it.
pub const UNSUPPORTED_READ: &str = "UnsupportedRead";
/// A cluster this worker has no `[execution.clusters.<id>]` for.
pub const UNKNOWN_CLUSTER: &str = "UnknownCluster";
/// Contradictory or incomplete credentials configuration, a missing file or variable,
/// Vault refusing the role.
pub const CREDENTIALS_CONFIG: &str = "CredentialsConfig";
/// The credentials source (Vault) could not answer now: transport error, 429, 5xx.
pub const CREDENTIALS_UNAVAILABLE: &str = "CredentialsUnavailable";
/// The API server answered 429 or 5xx (or 408).
pub const CLUSTER_UNAVAILABLE: &str = "ClusterUnavailable";
/// The API server could not be reached or its answer not read (connection, timeout).
pub const CLUSTER_TRANSPORT: &str = "ClusterTransport";

/// Failure types marked non-retryable; the workflow's retry policies list them too.
pub const NON_RETRYABLE: [&str; 3] = [UNSUPPORTED_READ, UNKNOWN_CLUSTER, CREDENTIALS_CONFIG];

/// Whether an API server answer with this HTTP code is worth retrying.
pub const fn transient_status(code: u16) -> bool {
    matches!(code, 408 | 429) || code >= 500
}
