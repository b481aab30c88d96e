//! Rate limits: token buckets kept in this instance's memory (so with N instances behind a load
//! balancer, a caller gets up to N times the rate; the limits are per instance by design, with no
//! shared store on the hot path).
//!
//! Four kinds of bucket, each a [`Rate`] (`per_second` units refilled, `burst` units held):
//! - **per API key** (and per signed-in dashboard user), sized by scope unless an admin set the
//!   key's own rate with `setApiKeyRateLimit`;
//! - **per client address**, for anonymous callers and client keys (the public key must not let
//!   one address take an instance's capacity); an IPv6 address counts by its /64, and loopback is
//!   exempt (that is this host: a proxy without `TRUSTED_PROXIES`, the benchmarks);
//! - **per license key**, for `activate` and `validateLicense`.
//!
//! Every HTTP request takes one unit from its address bucket before authentication (so even
//! unauthenticated floods are bounded); an operation then costs [`cost`] units: its complexity
//! (the number async-graphql's validation computes, which `MAX_COMPLEXITY` bounds) in hundreds,
//! rounded up, at least one. A heartbeat costs one unit. A request refused by a bucket is answered
//! with HTTP 429, `Retry-After` and `extensions.code = "RATE_LIMITED"` with `retryAfter` in seconds
//! (`Error::RateLimited`); nothing of it runs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{ServerError, ValidationResult};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

use crate::auth::{ActorKind, Caller, RequestMeta, Scope};
use crate::error::{Error, Result};

/// Complexity points per unit of cost: an ordinary client operation (complexity under a hundred)
/// costs one unit, like a heartbeat, and the most complex operation allowed
/// (`graphql::MAX_COMPLEXITY`) 500, half an analyst's burst.
pub const COMPLEXITY_PER_UNIT: usize = 100;
/// How long the heartbeat path trusts what it knows of a key (its rate) before the general path,
/// which reads the key, refreshes it; a rate changed on another instance applies within this.
const KEY_FRESH_FOR: Duration = Duration::from_secs(60);
/// Buckets idle this long are dropped (a full bucket is the same as none).
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// A token bucket's size: `per_second` units refilled each second, at most `burst` held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

/// The largest rate or burst accepted anywhere (settings and `setApiKeyRateLimit`).
pub const MAX_RATE: u32 = 10_000_000;

impl Rate {
    /// A rate within 1..=`MAX_RATE` for both numbers; `field` names the input for the error.
    pub fn new(per_second: i64, burst: i64) -> Result<Rate> {
        let check = |value: i64, field: &str| {
            u32::try_from(value)
                .ok()
                .filter(|v| (1..=MAX_RATE).contains(v))
                .ok_or_else(|| Error::bad_input(field, format!("{field} must be between 1 and {MAX_RATE}")))
        };
        Ok(Rate { per_second: check(per_second, "perSecond")?, burst: check(burst, "burst")? })
    }

    fn quota(self) -> Quota {
        let nonzero = |v: u32| NonZeroU32::new(v.max(1)).unwrap_or(NonZeroU32::MIN);
        Quota::per_second(nonzero(self.per_second)).allow_burst(nonzero(self.burst))
    }
}

/// `PER_SECOND/BURST`, or `PER_SECOND` alone (the burst is then one second's worth).
impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (rate, burst) = s.split_once('/').unwrap_or((s, s));
        let number = |v: &str| v.trim().parse::<i64>().map_err(|_| format!("`{s}` is not PER_SECOND/BURST"));
        Rate::new(number(rate)?, number(burst)?).map_err(|e| format!("`{s}`: {e}"))
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.per_second, self.burst)
    }
}

/// The rates an instance applies (README "Rate limits" says how the defaults were sized).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub client_key: Rate,
    pub analyst_key: Rate,
    pub admin_key: Rate,
    pub address: Rate,
    pub license_key: Rate,
}

/// The defaults as `PER_SECOND/BURST` text, shared by the settings' `Default` and the CLI.
pub mod defaults {
    pub const CLIENT_KEY: &str = "50000/100000";
    pub const ANALYST_KEY: &str = "100/1000";
    pub const ADMIN_KEY: &str = "500/5000";
    pub const ADDRESS: &str = "100/400";
    pub const LICENSE_KEY: &str = "5/50";
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let rate = |text: &str| text.parse().unwrap_or(Rate { per_second: 1, burst: 1 });
        RateLimitSettings {
            client_key: rate(defaults::CLIENT_KEY),
            analyst_key: rate(defaults::ANALYST_KEY),
            admin_key: rate(defaults::ADMIN_KEY),
            address: rate(defaults::ADDRESS),
            license_key: rate(defaults::LICENSE_KEY),
        }
    }
}

/// The rates as settings (`serve`); each `PER_SECOND/BURST` in units of cost.
#[derive(Debug, Clone, clap::Args)]
pub struct RateLimitArgs {
    /// Per client-scope API key (one shared key serves a whole fleet's heartbeats).
    #[arg(long, env = "RATE_LIMIT_CLIENT_KEY", default_value = defaults::CLIENT_KEY)]
    pub rate_limit_client_key: Rate,
    /// Per analyst-scope API key or signed-in analyst.
    #[arg(long, env = "RATE_LIMIT_ANALYST_KEY", default_value = defaults::ANALYST_KEY)]
    pub rate_limit_analyst_key: Rate,
    /// Per admin-scope API key or signed-in admin.
    #[arg(long, env = "RATE_LIMIT_ADMIN_KEY", default_value = defaults::ADMIN_KEY)]
    pub rate_limit_admin_key: Rate,
    /// Per client address (anonymous callers and client keys; loopback exempt).
    #[arg(long, env = "RATE_LIMIT_ADDRESS", default_value = defaults::ADDRESS)]
    pub rate_limit_address: Rate,
    /// Per license key, for activate and validateLicense.
    #[arg(long, env = "RATE_LIMIT_LICENSE_KEY", default_value = defaults::LICENSE_KEY)]
    pub rate_limit_license_key: Rate,
}

impl RateLimitArgs {
    pub fn settings(&self) -> RateLimitSettings {
        RateLimitSettings {
            client_key: self.rate_limit_client_key,
            analyst_key: self.rate_limit_analyst_key,
            admin_key: self.rate_limit_admin_key,
            address: self.rate_limit_address,
            license_key: self.rate_limit_license_key,
        }
    }
}

impl RateLimitSettings {
    pub fn for_scope(&self, scope: Scope) -> Rate {
        match scope {
            Scope::Client => self.client_key,
            Scope::Analyst => self.analyst_key,
            Scope::Admin => self.admin_key,
        }
    }
}

/// Who a per-caller bucket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Principal {
    ApiKey(Uuid),
    User(Uuid),
}

/// One caller's bucket, with the rate it was made for.
struct Bucket {
    rate: Rate,
    limiter: DefaultDirectRateLimiter,
    /// Milliseconds since [`RateLimits::epoch`] when the key was last read from the database.
    verified_at: AtomicU64,
    /// Milliseconds since the epoch of the last charge.
    used_at: AtomicU64,
}

#[derive(Default)]
struct Buckets {
    by_principal: HashMap<Principal, Arc<Bucket>>,
    /// API keys' buckets again, by the key's digest (all the heartbeat path knows of a key).
    by_digest: HashMap<Vec<u8>, Arc<Bucket>>,
}

/// This instance's buckets.
pub struct RateLimits {
    settings: RateLimitSettings,
    epoch: Instant,
    clock: DefaultClock,
    callers: RwLock<Buckets>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
    licenses: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// `cost` units as one check of a bucket holding `burst`: an operation dearer than the whole
/// burst takes all of it (it must still be possible, just never more than once per refill).
fn units(cost: u32, burst: u32) -> NonZeroU32 {
    NonZeroU32::new(cost.clamp(1, burst.max(1))).unwrap_or(NonZeroU32::MIN)
}

/// A bucket's answer as the caller sees it: nothing, or `RATE_LIMITED` with the wait.
fn verdict<P: governor::clock::Reference>(
    checked: std::result::Result<std::result::Result<(), governor::NotUntil<P>>, governor::InsufficientCapacity>,
    now: P,
    limit: &'static str,
) -> Result<()> {
    let retry_after = match checked {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(not_until)) => not_until.wait_time_from(now),
        Err(_) => Duration::from_secs(1),
    };
    Err(Error::RateLimited { limit, retry_after })
}

/// Where a client is, for counting: an IPv4 address as it is (also when mapped into IPv6), an
/// IPv6 address by its /64 (one subscriber usually holds a whole /64, so counting single IPv6
/// addresses would count nothing). Rate limits and the sign-in throttle both count by it.
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// The address a bucket is kept for ([`client_network`]); `None` for loopback, which is exempt.
fn address_key(ip: IpAddr) -> Option<IpAddr> {
    (!ip.to_canonical().is_loopback()).then(|| client_network(ip))
}

/// What an operation costs: its complexity in hundreds, rounded up, at least one unit.
pub fn cost(complexity: usize) -> u32 {
    u32::try_from(complexity.div_ceil(COMPLEXITY_PER_UNIT).max(1)).unwrap_or(u32::MAX)
}

impl RateLimits {
    pub fn new(settings: RateLimitSettings) -> Self {
        RateLimits {
            settings,
            epoch: Instant::now(),
            clock: DefaultClock::default(),
            callers: RwLock::default(),
            addresses: DefaultKeyedRateLimiter::keyed(settings.address.quota()),
            licenses: DefaultKeyedRateLimiter::keyed(settings.license_key.quota()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn bucket(&self, rate: Rate) -> Arc<Bucket> {
        let now = self.now_ms();
        Arc::new(Bucket {
            rate,
            limiter: DefaultDirectRateLimiter::direct(rate.quota()),
            verified_at: AtomicU64::new(now),
            used_at: AtomicU64::new(now),
        })
    }

    /// The rate an API key runs at: its own, else its scope's.
    pub fn rate_for_key(&self, scope: Scope, own: Option<Rate>) -> Rate {
        own.unwrap_or(self.settings.for_scope(scope))
    }

    /// Notes a key just read from the database: its digest and the rate it runs at now. A
    /// changed rate starts a fresh bucket; an unchanged one keeps its state.
    pub fn remember_key(&self, id: Uuid, digest: &[u8], rate: Rate) {
        let principal = Principal::ApiKey(id);
        {
            let buckets = self.callers.read().unwrap_or_else(|e| e.into_inner());
            if let Some(bucket) = buckets.by_principal.get(&principal).filter(|b| b.rate == rate) {
                bucket.verified_at.store(self.now_ms(), Ordering::Relaxed);
                if buckets.by_digest.contains_key(digest) {
                    return;
                }
            }
        }
        let mut buckets = self.callers.write().unwrap_or_else(|e| e.into_inner());
        let bucket = match buckets.by_principal.get(&principal).filter(|b| b.rate == rate) {
            Some(bucket) => bucket.clone(),
            None => self.bucket(rate),
        };
        buckets.by_principal.insert(principal, bucket.clone());
        buckets.by_digest.insert(digest.to_vec(), bucket);
    }

    /// Applies a key's new rate on this instance at once (other instances within
    /// [`KEY_FRESH_FOR`], or at the key's next request on their general path).
    pub fn key_rate_changed(&self, id: Uuid, rate: Rate) {
        let mut buckets = self.callers.write().unwrap_or_else(|e| e.into_inner());
        if buckets.by_principal.get(&Principal::ApiKey(id)).is_some_and(|b| b.rate != rate) {
            let bucket = self.bucket(rate);
            let old = buckets.by_principal.insert(Principal::ApiKey(id), bucket.clone());
            buckets.by_digest.retain(|_, b| !old.as_ref().is_some_and(|old| Arc::ptr_eq(b, old)));
        }
    }

    /// `cost` units from the address's bucket (one for every request, before anything else is
    /// done for it).
    pub fn charge_address(&self, ip: Option<IpAddr>, cost: u32) -> Result<()> {
        let Some(key) = ip.and_then(address_key) else { return Ok(()) };
        let checked = self.addresses.check_key_n(&key, units(cost, self.settings.address.burst));
        verdict(checked, self.clock.now(), "address")
    }

    /// One attempt on a license key (`activate`, `validateLicense`, `releaseDevice`), by its canonical text.
    pub fn charge_license(&self, license_key: &str) -> Result<()> {
        let checked = self.licenses.check_key_n(&license_key.to_owned(), NonZeroU32::MIN);
        verdict(checked, self.clock.now(), "licenseKey")
    }

    /// `cost` units from a key's or user's bucket.
    fn charge_caller(&self, bucket: &Bucket, cost: u32) -> Result<()> {
        bucket.used_at.store(self.now_ms(), Ordering::Relaxed);
        verdict(bucket.limiter.check_n(units(cost, bucket.rate.burst)), self.clock.now(), "apiKey")
    }

    /// Whether this instance read the key with this digest within [`KEY_FRESH_FOR`].
    pub fn knows_key(&self, digest: &[u8]) -> bool {
        let buckets = self.callers.read().unwrap_or_else(|e| e.into_inner());
        buckets.by_digest.get(digest).is_some_and(|b| self.is_fresh(b))
    }

    fn is_fresh(&self, bucket: &Bucket) -> bool {
        let age = self.now_ms().saturating_sub(bucket.verified_at.load(Ordering::Relaxed));
        age <= KEY_FRESH_FOR.as_millis() as u64
    }

    /// The heartbeat path: `None` when this instance has not read the key in the last
    /// [`KEY_FRESH_FOR`] (the general path then reads it), else the outcome of one unit.
    pub fn charge_heartbeat(&self, digest: &[u8]) -> Option<Result<()>> {
        let buckets = self.callers.read().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.by_digest.get(digest).filter(|b| self.is_fresh(b))?;
        Some(self.charge_caller(bucket, 1))
    }

    /// Charges a validated operation: `cost` units from the caller's bucket, and from the
    /// address's for anonymous callers and client keys (less the unit the request already paid).
    pub fn charge_operation(&self, caller: Option<&Caller>, ip: Option<IpAddr>, cost: u32) -> Result<()> {
        if caller.is_none_or(|c| c.scope == Scope::Client) && cost > 1 {
            self.charge_address(ip, cost - 1)?;
        }
        let Some(caller) = caller else { return Ok(()) };
        let bucket = match (&caller.deferred_key, caller.actor.kind, caller.user_id()) {
            (Some(digest), _, _) => {
                // A lone heartbeat whose key was not read: its bucket if the key is known.
                let buckets = self.callers.read().unwrap_or_else(|e| e.into_inner());
                match buckets.by_digest.get(digest) {
                    Some(bucket) => bucket.clone(),
                    None => return Ok(()),
                }
            }
            (None, _, Some(user)) => self.principal_bucket(Principal::User(user), caller.scope),
            (None, ActorKind::ApiKey, None) => {
                match caller.actor.id.as_deref().and_then(|id| Uuid::parse_str(id).ok()) {
                    Some(id) => self.principal_bucket(Principal::ApiKey(id), caller.scope),
                    None => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        self.charge_caller(&bucket, cost)
    }

    /// The bucket of a key or user; a user (or a key not yet remembered) runs at its scope's rate.
    fn principal_bucket(&self, principal: Principal, scope: Scope) -> Arc<Bucket> {
        if let Some(bucket) = self.callers.read().unwrap_or_else(|e| e.into_inner()).by_principal.get(&principal) {
            return bucket.clone();
        }
        let mut buckets = self.callers.write().unwrap_or_else(|e| e.into_inner());
        buckets.by_principal.entry(principal).or_insert_with(|| self.bucket(self.settings.for_scope(scope))).clone()
    }

    /// Drops buckets nobody used for a while, so memory follows the active callers.
    pub fn forget_idle(&self) {
        self.addresses.retain_recent();
        self.addresses.shrink_to_fit();
        self.licenses.retain_recent();
        self.licenses.shrink_to_fit();
        let cutoff = self.now_ms().saturating_sub(FORGET_AFTER.as_millis() as u64);
        let mut buckets = self.callers.write().unwrap_or_else(|e| e.into_inner());
        buckets.by_principal.retain(|_, b| b.used_at.load(Ordering::Relaxed) >= cutoff);
        buckets.by_digest.retain(|_, b| b.used_at.load(Ordering::Relaxed) >= cutoff);
    }
}

/// Forgets idle buckets every minute.
pub async fn run_upkeep(limits: Arc<RateLimits>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    loop {
        ticker.tick().await;
        limits.forget_idle();
    }
}

/// The schema extension that charges each operation once validation has computed its
/// complexity, before anything executes.
pub struct Charge;

impl ExtensionFactory for Charge {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ChargeExtension)
    }
}

struct ChargeExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for ChargeExtension {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> std::result::Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        // Refused operations are not charged: their cost could exceed any bucket.
        crate::graphql::cost::refuse_if_too_complex(result.complexity).map_err(|err| vec![err])?;
        if let Some(limits) = ctx.data_opt::<Arc<RateLimits>>() {
            let ip = ctx.data_opt::<RequestMeta>().and_then(|m| m.ip);
            limits
                .charge_operation(ctx.data_opt::<Caller>(), ip, cost(result.complexity))
                .map_err(|err| vec![err.into_request_error()])?;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_or_without_a_burst() {
        assert_eq!("100/400".parse::<Rate>(), Ok(Rate { per_second: 100, burst: 400 }));
        assert_eq!("7".parse::<Rate>(), Ok(Rate { per_second: 7, burst: 7 }));
        for bad in ["", "0/10", "10/0", "-1/5", "a/b", "10/20/30", "20000000"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn costs_are_complexity_in_hundreds_at_least_one() {
        assert_eq!(cost(0), 1);
        assert_eq!(cost(100), 1);
        assert_eq!(cost(101), 2);
        assert_eq!(cost(crate::graphql::MAX_COMPLEXITY), 500);
    }

    #[test]
    fn addresses_count_by_host_and_ipv6_by_its_64() {
        let v6 = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(v6("2001:db8:1:2:aaaa::1"), v6("2001:db8:1:2:bbbb::2"));
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
        assert_eq!(v6("::ffff:203.0.113.9"), v6("203.0.113.9"));
        assert_eq!(v6("127.0.0.1"), None);
        assert_eq!(v6("::1"), None);
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_and_says_how_long_to_wait() {
        let limits = RateLimits::new(RateLimitSettings {
            address: Rate { per_second: 1, burst: 3 },
            ..RateLimitSettings::default()
        });
        let ip = Some("203.0.113.5".parse().unwrap());
        for _ in 0..3 {
            limits.charge_address(ip, 1).unwrap();
        }
        match limits.charge_address(ip, 1) {
            Err(Error::RateLimited { limit: "address", retry_after }) => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1), "{retry_after:?}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(limits.charge_address(Some("203.0.113.6".parse().unwrap()), 1).is_ok(), "another address");
        assert!(limits.charge_address(Some("127.0.0.1".parse().unwrap()), 1_000).is_ok(), "loopback");
    }

    /// How many address and license-key buckets are held.
    fn tracked(limits: &RateLimits) -> (usize, usize) {
        (limits.addresses.len(), limits.licenses.len())
    }

    #[test]
    fn idle_address_and_license_buckets_are_forgotten() {
        let fast = Rate { per_second: 1000, burst: 1 };
        let limits =
            RateLimits::new(RateLimitSettings { address: fast, license_key: fast, ..RateLimitSettings::default() });
        for i in 0..50u8 {
            limits.charge_address(Some(IpAddr::from([203, 0, 113, i])), 1).unwrap();
            limits.charge_license(&format!("KEY-{i}")).unwrap();
        }
        assert_eq!(tracked(&limits), (50, 50));
        std::thread::sleep(Duration::from_millis(20));
        limits.forget_idle();
        assert_eq!(tracked(&limits), (0, 0), "full buckets are the same as none");
    }
}
