//! Caps on open WebSocket connections, per instance: in total, per client address and per caller
//! (API key or dashboard user). A connection holds its slots as guards, which give them back when
//! dropped, however the connection ends (closed by either side, refused, failed, or an upgrade
//! that never completed).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most WebSocket connections one instance holds open.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1000;
/// Most WebSocket connections from one client address (after `TRUSTED_PROXIES`).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: u32 = 50;
/// Most WebSocket connections of one API key or one dashboard user.
pub const DEFAULT_MAX_CONNECTIONS_PER_KEY: u32 = 20;

/// The caps (`WS_MAX_CONNECTIONS`, `WS_MAX_CONNECTIONS_PER_ADDRESS`, `WS_MAX_CONNECTIONS_PER_KEY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_address: usize,
    pub per_key: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            total: DEFAULT_MAX_CONNECTIONS as usize,
            per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS as usize,
            per_key: DEFAULT_MAX_CONNECTIONS_PER_KEY as usize,
        }
    }
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The instance holds its maximum.
    Instance,
    /// The client address holds its maximum.
    Address,
}

/// This instance's open connections, counted against [`ConnectionLimits`]; cheap to clone.
#[derive(Clone)]
pub struct ConnectionCaps {
    limits: ConnectionLimits,
    total: Arc<Semaphore>,
    per_address: Arc<Tally<IpAddr>>,
    per_key: Arc<Tally<String>>,
}

/// The slots an accepted handshake holds: one of the instance's and one of its address's.
pub struct HandshakeSlots {
    _total: OwnedSemaphorePermit,
    _address: Option<Slot<IpAddr>>,
}

/// One of a caller's slots, taken once `connection_init` says who the caller is.
pub struct KeySlot {
    _slot: Slot<String>,
}

impl ConnectionCaps {
    pub fn new(limits: ConnectionLimits) -> Self {
        ConnectionCaps {
            limits,
            total: Arc::new(Semaphore::new(limits.total)),
            per_address: Arc::default(),
            per_key: Arc::default(),
        }
    }

    /// Slots for a new connection from `address` (unknown only when the server runs without
    /// connection info, which `serve` never does), or which cap is full.
    pub fn admit(&self, address: Option<IpAddr>) -> Result<HandshakeSlots, Full> {
        let total = self.total.clone().try_acquire_owned().map_err(|_| Full::Instance)?;
        let address = match address {
            Some(address) => Some(self.per_address.take(address, self.limits.per_address).ok_or(Full::Address)?),
            None => None,
        };
        Ok(HandshakeSlots { _total: total, _address: address })
    }

    /// A slot of the caller identified by `key` (an API key's or a user's id), if one is free.
    pub fn admit_key(&self, key: String) -> Option<KeySlot> {
        self.per_key.take(key, self.limits.per_key).map(|slot| KeySlot { _slot: slot })
    }
}

/// Slots held per key; keys holding none are forgotten, so the map holds only open connections.
struct Tally<K>(Mutex<HashMap<K, usize>>);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally(Mutex::new(HashMap::new()))
    }
}

struct Slot<K: Hash + Eq> {
    tally: Arc<Tally<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> Tally<K> {
    fn take(self: &Arc<Self>, key: K, limit: usize) -> Option<Slot<K>> {
        let mut counts = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let held = counts.get(&key).copied().unwrap_or(0);
        if held >= limit {
            return None;
        }
        counts.insert(key.clone(), held + 1);
        Some(Slot { tally: self.clone(), key })
    }
}

impl<K: Hash + Eq> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut counts = self.tally.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(held) = counts.get_mut(&self.key) {
            *held -= 1;
            if *held == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_come_back_when_dropped_and_empty_keys_are_forgotten() {
        let caps = ConnectionCaps::new(ConnectionLimits { total: 3, per_address: 2, per_key: 1 });
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = caps.admit(Some(a)).unwrap();
        let _second = caps.admit(Some(a)).unwrap();
        assert_eq!(caps.admit(Some(a)).err(), Some(Full::Address));
        let _third = caps.admit(Some(b)).unwrap();
        assert_eq!(caps.admit(Some(b)).err(), Some(Full::Instance));
        drop(first);
        assert!(caps.admit(Some(a)).is_ok(), "a dropped connection frees its slots");

        let key = caps.admit_key("k".into()).unwrap();
        assert!(caps.admit_key("k".into()).is_none());
        drop(key);
        assert!(caps.per_key.0.lock().unwrap().is_empty(), "no entry is kept for a key without connections");
        assert!(caps.admit_key("k".into()).is_some());
    }
}
