//! Who is asking, what they may touch, and how a refusal reads.

use mailhost_store::StoreError;
use serde::Serialize;

/// What a caller may manage (SPEC "Roles").
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// Runs the service: everything.
    Operator,
    /// The technical contact of these domains: their addresses.
    DomainAdmin(Vec<String>),
    /// A mailbox user: its own password, forwarding, autoresponder.
    User(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The admin login or mailbox address; `cli` for the command line.
    pub login: String,
    pub role: Role,
    /// Where the request came from, for the audit log.
    pub ip: Option<String>,
}

impl Caller {
    /// The command line runs as the operator (SPEC "Command line").
    pub fn cli() -> Caller {
        Caller {
            login: "cli".into(),
            role: Role::Operator,
            ip: None,
        }
    }

    pub fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }

    /// May manage the domain's addresses.
    pub fn manages(&self, domain: &str) -> bool {
        match &self.role {
            Role::Operator => true,
            Role::DomainAdmin(ds) => ds.iter().any(|d| d == domain),
            Role::User(_) => false,
        }
    }

    /// May act on this address as its admin or as the user itself.
    pub fn owns(&self, address: &str) -> bool {
        match &self.role {
            Role::User(a) => a == address,
            _ => self.manages(domain_of(address)),
        }
    }

    /// Is this mailbox user (not an admin acting for it).
    pub fn is_user(&self, address: &str) -> bool {
        matches!(&self.role, Role::User(a) if a == address)
    }
}

/// The domain part of a normalized address.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// How an operation failed; the API maps it to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 400: the input is wrong (`field` says which).
    Invalid,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: outside the caller's scope.
    Forbidden,
    /// 404
    NotFound,
    /// 409: the state does not allow it (exists already, not empty).
    Conflict,
    /// 500: the store failed.
    Internal,
}

/// The error of an operation: the API's `{"code","message","field"}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Error {
    #[serde(skip)]
    pub kind: Kind,
    /// `invalid`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `internal`.
    pub code: &'static str,
    /// In words a mailbox user understands.
    pub message: String,
    /// The input field at fault, if one is.
    pub field: Option<String>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        let code = match kind {
            Kind::Invalid => "invalid",
            Kind::Unauthorized => "unauthorized",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::Internal => "internal",
        };
        Error {
            kind,
            code,
            message: message.into(),
            field: None,
        }
    }
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::new(Kind::Invalid, message).at(field)
    }
    /// Invalid input that is no one field (malformed JSON, a bad query).
    pub fn bad_input(message: impl Into<String>) -> Self {
        Error::new(Kind::Invalid, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::new(Kind::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Kind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(Kind::Conflict, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Error::new(Kind::Unauthorized, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(Kind::Internal, message)
    }
    /// Names the field at fault.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// A store error about one field.
    pub fn field(field: &'static str) -> impl Fn(StoreError) -> Error {
        move |e| Error::from(e).at(field)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Error::new(Kind::NotFound, m),
            StoreError::Conflict(m) | StoreError::OverQuota(m) | StoreError::LimitReached(m) => {
                Error::new(Kind::Conflict, m)
            }
            StoreError::Invalid(m) => Error::new(Kind::Invalid, m),
            StoreError::Backend(m) => {
                tracing::error!("store: {m}");
                Error::new(
                    Kind::Internal,
                    "the server could not complete this; try again later",
                )
            }
        }
    }
}

/// Lists are read a page at a time.
pub const MAX_PAGE: usize = 200;

/// Which page: at most `limit` items after `cursor`, optionally only
/// names starting with `prefix`.
#[derive(Debug, Clone, Default)]
pub struct PageReq {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    pub prefix: Option<String>,
}

impl PageReq {
    /// The limit, checked: 1 to [`MAX_PAGE`], 50 when not given.
    pub fn limit(&self) -> crate::Result<usize> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(Error::invalid(
                "limit",
                format!("limit {n}: a page holds 1 to {MAX_PAGE} items"),
            )),
        }
    }

    /// Every page in turn, for the command line.
    pub fn all() -> PageReq {
        PageReq {
            limit: Some(MAX_PAGE),
            ..Default::default()
        }
    }
}
