use crate::lease::LeaseError;

/// Why a call to the server gave no answer the SDK could use. A refusal or denial by the
/// server is not an error: it is a typed result ([`crate::Activation::Denied`],
/// [`crate::Event::Refused`], …).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server could not be reached, or the connection broke or timed out.
    #[error("the license server cannot be reached: {0}")]
    Network(#[source] reqwest::Error),
    /// An HTTP status without a GraphQL answer (a proxy's 502, a rate limit's 429, …).
    #[error("the license server answered HTTP {status}")]
    Http { status: u16 },
    /// A GraphQL error: `code` is its `extensions.code` (`UNAUTHENTICATED` for a bad API key,
    /// `BAD_USER_INPUT` for a malformed argument, …).
    #[error("the license server refused the request ({code}): {message}")]
    Server { code: String, message: String },
    /// An answer that is not what the SDK's documents ask for.
    #[error("the license server's answer is not understood: {0}")]
    Protocol(String),
    /// The server's answer carried a lease that does not verify: the answer is not to be
    /// trusted (a fake or tampering server, or keys from the wrong place).
    #[error("the lease does not verify: {0}")]
    InvalidLease(#[from] LeaseError),
    /// The SDK was set up with something unusable (a server URL that does not parse, …).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether trying again later may succeed without anything changing on this side: network
    /// trouble, rate limits and server-side failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network(_) => true,
            Error::Http { status } => *status == 429 || *status >= 500,
            Error::Server { code, .. } => {
                matches!(code.as_str(), "RATE_LIMITED" | "INTERNAL_SERVER_ERROR" | "QUERY_TIMEOUT")
            }
            _ => false,
        }
    }
}
