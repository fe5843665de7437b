//! Accounts and sessions: signing in, signing out, and turning a session token back
//! into the principal a request acts as.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ganglion_core::{Post, Principal, Role};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::features::people::AccountView;
use crate::{clock, Actor, App, AppError, Audit, Ctx};

/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;
/// The same, in seconds, for a cookie's `Max-Age`.
pub const SESSION_SECONDS: i64 = SESSION_HOURS * 3600;

/// Argon2id with 19 MiB of memory and 2 passes: the OWASP minimum.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub(crate) fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|error| AppError::Internal(format!("cannot encode a salt: {error}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AppError::Internal(format!("cannot hash a password: {error}")))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| hasher().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// A fresh random password, for an administrator nobody gave one to.
pub fn generate_password() -> String {
    let mut bytes = [0u8; 15];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A sign-in attempt.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginAttempt {
    pub login: String,
    pub password: String,
}

/// A new session: the bearer token (shown once) and the account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub token: String,
    /// When the token stops working, RFC 3339.
    pub expires_at: String,
    pub account: AccountView,
}

/// Failed sign-ins per (login, client address): after [`LoginLimiter::FREE_FAILURES`]
/// failures that pair is refused for a while, twice as long after each further failure,
/// at most [`LoginLimiter::LONGEST_WAIT`]. Another client is never refused for them, and
/// the right password is let in once the wait is over (it clears the count). Read by the
/// app's clock.
#[derive(Default)]
pub(crate) struct LoginLimiter {
    failures: Mutex<HashMap<(String, String), Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// Refused until this time, in seconds since the epoch.
    until: i64,
}

impl LoginLimiter {
    const FREE_FAILURES: u32 = 5;
    const FIRST_WAIT: i64 = 15;
    const LONGEST_WAIT: i64 = 15 * 60;
    const REMEMBERED: usize = 100_000;

    fn key(login: &str, client: &str) -> (String, String) {
        (login.to_lowercase(), client.to_owned())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Failures>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses an attempt with the seconds to wait while the pair is held back.
    fn check(&self, login: &str, client: &str, now: i64) -> Result<(), u64> {
        match self.lock().get(&Self::key(login, client)) {
            Some(failures) if failures.until > now => Err((failures.until - now) as u64),
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in of the pair.
    fn failed(&self, login: &str, client: &str, now: i64) {
        let mut failures = self.lock();
        if failures.len() >= Self::REMEMBERED {
            // Forget the pairs no longer held back, so the map cannot grow without bound.
            failures.retain(|_, failures| failures.until > now);
        }
        let entry = failures
            .entry(Self::key(login, client))
            .or_insert(Failures { count: 0, until: 0 });
        entry.count += 1;
        if entry.count >= Self::FREE_FAILURES {
            let doublings = (entry.count - Self::FREE_FAILURES).min(20);
            let wait = (Self::FIRST_WAIT << doublings).min(Self::LONGEST_WAIT);
            entry.until = now + wait;
        }
    }

    fn succeeded(&self, login: &str, client: &str) {
        self.lock().remove(&Self::key(login, client));
    }
}

impl App {
    /// Signs in: a new session for the account if the password matches.
    pub async fn login(
        &self,
        ctx: &Ctx,
        attempt: LoginAttempt,
        client_address: &str,
    ) -> Result<SessionView, AppError> {
        let now = self.now().unix_timestamp();
        if let Err(retry_after) = self.limiter.check(&attempt.login, client_address, now) {
            return Err(AppError::RateLimited { retry_after });
        }
        let account = self.store.account_by_login(&attempt.login).await?;
        // Verify against a throwaway hash when the login is unknown, so that the time
        // taken does not tell which logins exist.
        let stored = account
            .as_ref()
            .map(|account| account.password_hash.clone())
            .unwrap_or_else(|| {
                DUMMY_HASH
                    .get_or_init(|| hash_password("not a password anyone has").unwrap_or_default())
                    .clone()
            });
        let password = attempt.password.clone();
        let matches = tokio::task::spawn_blocking(move || password_matches(&password, &stored))
            .await
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let Some(account) = account.filter(|_| matches) else {
            self.limiter.failed(&attempt.login, client_address, now);
            self.record_denial(
                ctx,
                "session.create",
                format!("login:{}", attempt.login),
                None,
            )
            .await;
            return Err(AppError::BadCredentials);
        };
        self.limiter.succeeded(&attempt.login, client_address);
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = self.now();
        let expires_at = clock::format_time(now + time::Duration::hours(SESSION_HOURS));
        let mut tx = self.store.write().await?;
        tx.insert_session(
            &token_digest(&token),
            account.id,
            &clock::format_time(now),
            &expires_at,
        )
        .await?;
        let view = SessionView {
            token,
            expires_at,
            account: AccountView::from(&account),
        };
        let signed_in = Ctx {
            actor: Actor::of_account(&account),
            ..ctx.clone()
        };
        // The token itself is never recorded, and the response is not kept for replay.
        let audit = Audit::new("session.create", format!("account:{}", account.id), None);
        let without_replay = Ctx {
            idempotency: None,
            ..signed_in
        };
        self.finish_write(tx, &without_replay, audit, view).await
    }

    /// Revokes the session of this token at once.
    pub async fn logout(&self, ctx: &Ctx, token: &str) -> Result<(), AppError> {
        if ctx.actor == Actor::Anonymous {
            return Err(AppError::Unauthenticated);
        }
        let mut tx = self.store.write().await?;
        tx.revoke_session(&token_digest(token), &self.now_text())
            .await?;
        let audit = Audit::new("session.revoke", ctx.actor.label(), None);
        self.finish_write(tx, ctx, audit, ()).await
    }

    /// The context of a request carrying this token: its account and the posts its
    /// person holds today. An unknown, expired or revoked token is anonymous.
    pub async fn authenticate(&self, token: &str, request_id: String) -> Result<Ctx, AppError> {
        let digest = token_digest(token);
        let today = self.today_text();
        let caller = match self.sessions.get(&digest, &today) {
            Some(caller) => Some(caller),
            None => {
                let generation = self.sessions.generation();
                let caller = self.load_caller(&digest, &today).await?;
                if let Some(caller) = &caller {
                    self.sessions.remember(digest, caller.clone(), generation);
                }
                caller
            }
        };
        Ok(match caller {
            Some(caller) if caller.expires_at > self.now_text() => Ctx {
                actor: caller.actor,
                principal: caller.principal,
                request_id,
                idempotency: None,
            },
            _ => Ctx::anonymous(request_id),
        })
    }

    /// A live session's caller as the store has it now.
    async fn load_caller(&self, digest: &str, today: &str) -> Result<Option<Caller>, AppError> {
        let Some(session) = self.store.session(digest).await? else {
            return Ok(None);
        };
        if session.revoked {
            return Ok(None);
        }
        let Some(account) = self.store.account(session.account).await? else {
            return Ok(None);
        };
        let posts = match account.person {
            Some(person) => self
                .store
                .posts_of_person(person)
                .await?
                .into_iter()
                .filter(|post| {
                    post.start.as_str() <= today
                        && post.end.as_deref().is_none_or(|end| end > today)
                })
                .filter_map(|post| {
                    Some(Post {
                        unit: post.unit,
                        role: Role::parse(&post.role)?,
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Some(Caller {
            actor: Actor::of_account(&account),
            principal: Principal {
                admin: account.admin,
                posts,
            },
            expires_at: session.expires_at,
            day: today.to_owned(),
        }))
    }
}

/// Who a live session acts as, on the day it was read.
#[derive(Debug, Clone)]
struct Caller {
    actor: Actor,
    principal: Principal,
    expires_at: String,
    /// Posts begin and end on dates: the posts held are read again on another day.
    day: String,
}

/// The most sessions remembered; past it, the memory starts afresh.
const REMEMBERED_SESSIONS: usize = 100_000;

/// Sessions seen lately, by token digest, so that a caller making many requests is not
/// read from the store on each. Every committed change of sessions, accounts or posts
/// empties it — on other servers when they read that change from the feed — and a
/// caller read before such a change is not remembered after it.
#[derive(Default)]
pub(crate) struct SessionCache {
    state: Mutex<RememberedSessions>,
}

#[derive(Default)]
struct RememberedSessions {
    callers: HashMap<String, Caller>,
    /// Bumped by every forgetting: a caller read under an older generation may be stale.
    generation: u64,
}

impl SessionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, RememberedSessions> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, digest: &str, today: &str) -> Option<Caller> {
        self.lock()
            .callers
            .get(digest)
            .filter(|caller| caller.day == today)
            .cloned()
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    fn remember(&self, digest: String, caller: Caller, read_at: u64) {
        let mut state = self.lock();
        if state.generation != read_at {
            return;
        }
        if state.callers.len() >= REMEMBERED_SESSIONS {
            state.callers.clear();
        }
        state.callers.insert(digest, caller);
    }

    pub(crate) fn forget_all(&self) {
        let mut state = self.lock();
        state.callers.clear();
        state.generation += 1;
    }
}

static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
