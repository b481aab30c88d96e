//! The client SDK of the license server: what an application embeds to be licensed.
//!
//! [`LicenseClient::activate`] registers the device and starts a session; the returned
//! [`Session`] heartbeats in the background at the server's interval (with jitter, and with
//! exponential back-off while the server cannot be reached), verifies every lease the server
//! hands out against the server's published keys, keeps the application licensed through
//! outages for as long as the last valid lease lasts, and reports what happens as typed
//! [`Event`]s. No GraphQL text appears in the application: the SDK holds the documents.
//!
//! ```no_run
//! use license_client::{Activation, Event, LicenseClient};
//!
//! # async fn run() -> Result<(), license_client::Error> {
//! let client = LicenseClient::builder("https://licenses.example.com", "AF-2026-…").build()?;
//! match client.activate("ABCD-EFGH-…", "machine-id-of-this-pc", "Alice's laptop").await? {
//!     Activation::Licensed(session) => {
//!         println!("licensed: {:?}, features {:?}", session.license().license_type, session.lease().claims().features);
//!         let mut events = session.events();
//!         while let Some(event) = events.recv().await {
//!             if let Event::Refused(reason) = event {
//!                 eprintln!("the license was withdrawn: {reason:?}");
//!             }
//!             if !session.is_licensed() {
//!                 break;
//!             }
//!         }
//!         session.end().await?;
//!     }
//!     Activation::Denied(denied) => eprintln!("not licensed: {:?} ({})", denied.reason, denied.message),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Air-gapped machines get a lease file from an admin (`issueOfflineLease`) and check it with
//! [`verify_offline_lease`] against the server's key set, without any network.

mod backoff;
mod client;
mod documents;
mod error;
mod lease;
mod session;
mod types;

pub use backoff::Backoff;
pub use client::{LicenseClient, LicenseClientBuilder, DEFAULT_ISSUER};
pub use error::Error;
pub use lease::{fingerprint_sha256, verify_offline_lease, Lease, LeaseClaims, LeaseError, LeaseVerifier};
pub use session::{Event, Events, Session};
pub use types::{
    Activation, ClientLicense, DenialReason, Denied, LicenseType, RefusalReason, Release, ReleaseDenialReason,
    Resource, ResourceType, ValidLicense, Validation,
};
