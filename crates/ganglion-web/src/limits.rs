//! Who the client is and how fast it may go: the client's address (taken from a proxy's
//! header only when the operator named that proxy as trusted), whether it came over TLS,
//! and the token buckets that answer a flood with 429 and `Retry-After`: one per client
//! address, checked in a layer before anything else runs, and one per account, checked
//! once the caller is known. Both are in memory (`governor`'s GCRA), a few dozen
//! nanoseconds a request.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ganglion_app::ErrorCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use crate::AppState;

/// How many requests a second, and in a burst, one account may send; a client address
/// may send four times as many (several people share an office's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    /// Limits a person never meets: 50 requests a second, in bursts of 300.
    pub const DEFAULT: RateLimit = RateLimit {
        per_second: 50,
        burst: 300,
    };
}

/// `off`, `N` (N a second, bursts of 6 N) or `N/BURST`.
impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{text:?} is not a rate limit: write off, N or N/BURST (requests a second)");
        if text.eq_ignore_ascii_case("off") {
            return Ok(RateLimit {
                per_second: 0,
                burst: 0,
            });
        }
        let (rate, burst) = match text.split_once('/') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (text, None),
        };
        let per_second: u32 = rate.trim().parse().map_err(|_| bad())?;
        let burst = match burst {
            Some(burst) => burst.trim().parse().map_err(|_| bad())?,
            None => per_second.saturating_mul(6),
        };
        if per_second == 0 || burst == 0 {
            return Err(bad());
        }
        Ok(RateLimit { per_second, burst })
    }
}

/// One network or address, `10.0.0.0/8` or `127.0.0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not an address or a network such as 10.0.0.0/8");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let longest = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| bad())?,
            None => longest,
        };
        if prefix > longest {
            return Err(bad());
        }
        Ok(Network { address, prefix })
    }
}

/// How the HTTP layer meets the world, given by the operator.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per account; `per_second == 0` switches the limits off.
    pub rate_limit: RateLimit,
    /// The reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<Network>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rate_limit: RateLimit::DEFAULT,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Who sent a request, as far as the server can tell.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    pub address: IpAddr,
    /// Reached over TLS, as a trusted proxy says.
    pub secure: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Client>().copied().unwrap_or(Client {
            address: IpAddr::from([127, 0, 0, 1]),
            secure: false,
        }))
    }
}

/// The buckets, shared by every request of a server.
pub(crate) struct Limits {
    settings: Settings,
    clients: Option<DefaultKeyedRateLimiter<IpAddr>>,
    accounts: Option<DefaultKeyedRateLimiter<i64>>,
    /// Sign-in attempts per client: each costs a password hash.
    sign_ins: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

fn quota(per_second: u32, burst: u32) -> Option<Quota> {
    let per_second = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst)?;
    Some(Quota::per_second(per_second).allow_burst(burst))
}

impl Limits {
    pub fn new(settings: Settings) -> Arc<Self> {
        let RateLimit { per_second, burst } = settings.rate_limit;
        fn keyed<K: std::hash::Hash + Eq + Clone>(
            per_second: u32,
            burst: u32,
        ) -> Option<DefaultKeyedRateLimiter<K>> {
            quota(per_second, burst).map(RateLimiter::keyed)
        }
        Arc::new(Self {
            clients: keyed(per_second.saturating_mul(4), burst.saturating_mul(4)),
            accounts: keyed(per_second, burst),
            sign_ins: keyed(per_second.div_ceil(10), burst.div_ceil(10)),
            settings,
            checks: AtomicU64::new(0),
        })
    }

    /// The client of a request that came from `peer`.
    pub fn client(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> Client {
        let trusted = |address: IpAddr| {
            self.settings
                .trusted_proxies
                .iter()
                .any(|network| network.contains(address))
        };
        if !trusted(peer) {
            return Client {
                address: peer,
                secure: false,
            };
        }
        // The nearest address that is not one of our proxies: whatever a client put
        // further left in the header is its own claim.
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        let address = forwarded
            .iter()
            .rev()
            .copied()
            .find(|address| !trusted(*address))
            .unwrap_or(peer);
        let secure = headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        Client { address, secure }
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &Option<DefaultKeyedRateLimiter<K>>,
        key: &K,
    ) -> Result<(), ApiError> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        // Forget quiet keys now and then, so that the buckets cannot grow without bound.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 65_536 == 65_535 {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            too_many(wait)
        })
    }

    pub fn check_account(&self, account: i64) -> Result<(), ApiError> {
        self.check(&self.accounts, &account)
    }

    pub fn check_sign_in(&self, client: IpAddr) -> Result<(), ApiError> {
        self.check(&self.sign_ins, &client)
    }
}

fn too_many(wait: Duration) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut error = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests; try again in {} seconds", seconds.max(1)),
    );
    error.retry_after = Some(seconds.max(1));
    error
}

/// The first layer a request meets: who the client is, and whether its bucket has room.
pub(crate) async fn limit_clients(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let client = state.limits.client(peer, request.headers());
    if let Err(error) = state.limits.check(&state.limits.clients, &client.address) {
        return error.into_response();
    }
    request.extensions_mut().insert(client);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_as_written() {
        assert_eq!(
            "50".parse::<RateLimit>(),
            Ok(RateLimit {
                per_second: 50,
                burst: 300
            })
        );
        assert_eq!(
            "5/10".parse::<RateLimit>(),
            Ok(RateLimit {
                per_second: 5,
                burst: 10
            })
        );
        assert_eq!("off".parse::<RateLimit>().unwrap().per_second, 0);
        assert!("0".parse::<RateLimit>().is_err());
        assert!("fast".parse::<RateLimit>().is_err());
        let network: Network = "10.0.0.0/8".parse().unwrap();
        assert!(network.contains("10.1.2.3".parse().unwrap()));
        assert!(!network.contains("11.0.0.1".parse().unwrap()));
        let one: Network = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
    }

    #[test]
    fn a_proxy_header_is_believed_only_from_a_trusted_proxy() {
        let limits = Limits::new(Settings {
            rate_limit: RateLimit::DEFAULT,
            trusted_proxies: vec!["10.0.0.1".parse().unwrap()],
        });
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        let direct = limits.client("9.9.9.9".parse().unwrap(), &headers);
        assert_eq!(direct.address, "9.9.9.9".parse::<IpAddr>().unwrap());
        assert!(!direct.secure);
        let proxied = limits.client("10.0.0.1".parse().unwrap(), &headers);
        assert_eq!(proxied.address, "5.6.7.8".parse::<IpAddr>().unwrap());
        assert!(proxied.secure);
    }
}
