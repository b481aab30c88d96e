//! Who is calling, and what they may do.

use std::net::IpAddr;

use async_graphql::{Context, Guard};
use uuid::Uuid;

use crate::error::{Error, GqlResultExt, Result};

/// The scope of an API key; dashboard roles map onto the same permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, async_graphql::Enum)]
pub enum Scope {
    /// Client applications: activate, heartbeat, end session, validate.
    Client,
    /// Read everything except secrets; no mutations.
    Analyst,
    /// Everything.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Client => "client",
            Scope::Analyst => "analyst",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Scope::Client),
            "analyst" => Some(Scope::Analyst),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// What an operation needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Activate, heartbeat, end session, validate: client keys and admins.
    ClientOperations,
    /// Read the admin data: analysts and admins.
    Read,
    /// Change anything: admins only.
    Write,
}

impl Permission {
    fn granted_to(self, scope: Scope) -> bool {
        match self {
            Permission::ClientOperations => matches!(scope, Scope::Client | Scope::Admin),
            Permission::Read => matches!(scope, Scope::Analyst | Scope::Admin),
            Permission::Write => scope == Scope::Admin,
        }
    }
}

/// Who did something, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    ApiKey,
    User,
    System,
    Cli,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::ApiKey => "api_key",
            ActorKind::User => "user",
            ActorKind::System => "system",
            ActorKind::Cli => "cli",
        }
    }
}

impl Actor {
    pub fn system() -> Self {
        Actor { kind: ActorKind::System, id: None, name: "system".into() }
    }

    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Actor { kind: ActorKind::Cli, id: None, name: format!("cli:{user}") }
    }
}

/// A live dashboard session as one request sees it (the dashboard's cookie sessions are
/// `admin::dashboard_sessions`).
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub username: String,
    pub scope: Scope,
    /// Only `me`, `enrollTotp`, `confirmTotp` and `logout` are allowed.
    pub enrollment_only: bool,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub scope: Scope,
    pub ip: Option<IpAddr>,
    /// Set when the caller is a dashboard user signed in with the session cookie.
    pub session: Option<SessionInfo>,
    /// For a lone heartbeat: the digest of an API key not yet looked up, checked by the
    /// heartbeat's own batched statement instead (see `http::deferred_key`).
    pub deferred_key: Option<Vec<u8>>,
}

impl Caller {
    /// A dashboard user signed in with the session cookie.
    pub fn from_session(session: SessionInfo, ip: Option<IpAddr>) -> Self {
        Caller {
            actor: Actor {
                kind: ActorKind::User,
                id: Some(session.user_id.to_string()),
                name: session.username.clone(),
            },
            scope: session.scope,
            ip,
            session: Some(session),
            deferred_key: None,
        }
    }

    /// The signed-in dashboard user, if the caller is one.
    pub fn user_id(&self) -> Option<Uuid> {
        self.session.as_ref().map(|s| s.user_id)
    }

    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.session.as_ref().is_some_and(|s| s.enrollment_only) {
            return Err(Error::TotpEnrollmentRequired);
        }
        if permission.granted_to(self.scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("a caller with scope `{}` may not do this", self.scope.as_str())))
        }
    }
}

/// The caller attached to the current GraphQL request.
pub fn caller<'a>(ctx: &Context<'a>) -> Result<&'a Caller> {
    ctx.data_opt::<Caller>().ok_or_else(|| Error::Unauthenticated("sign in or send an X-API-Key header".into()))
}

/// What the transport knows about a request, authenticated or not.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The client's address (from X-Forwarded-For only behind a trusted proxy).
    pub ip: Option<IpAddr>,
    /// The dashboard session token from the cookie, if one was sent.
    pub session_token: Option<String>,
    /// Whether the peer is a trusted proxy, whose `X-Forwarded-*` headers are believed.
    pub via_trusted_proxy: bool,
    /// The `User-Agent` header, recorded with a dashboard session when one starts.
    pub user_agent: Option<String>,
}

pub fn request_meta<'a>(ctx: &Context<'a>) -> &'a RequestMeta {
    static NONE: RequestMeta =
        RequestMeta { ip: None, session_token: None, via_trusted_proxy: false, user_agent: None };
    ctx.data_opt::<RequestMeta>().unwrap_or(&NONE)
}

/// Field guard: `#[graphql(guard = "Require(Permission::Read)")]`.
pub struct Require(pub Permission);

impl Guard for Require {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        caller(ctx).and_then(|c| c.require(self.0)).gql()
    }
}
