//! The IMAP vocabulary: commands as the client sent them, typed (RFC 9051
//! §6, and the extensions we implement). The parser (`parse`) makes these
//! from framed bytes; the server crate runs them; `mailhost-imap-body`
//! answers the message-shaped ones (sections, search text).
//!
//! Names stay raw where their meaning depends on session state: mailbox
//! names are the bytes of the astring (modified UTF-7 in IMAP4rev1, UTF-8
//! once UTF8=ACCEPT is enabled, RFC 9051 §5.1, RFC 6855 §3), decoded by the
//! session with [`crate::utf7`].

use crate::seqset::SeqSet;

/// A tagged command.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub tag: String,
    pub command: Command,
}

/// Every command we parse. The comment gives the state it runs in.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    // Any state (RFC 9051 §6.1).
    Capability,
    Noop,
    Logout,
    /// RFC 2971: `ID NIL` or `ID ("name" "value" ...)`; values may be NIL.
    Id(Option<Vec<(String, Option<String>)>>),

    // Not authenticated (§6.2).
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (RFC 4959 SASL-IR).
    /// `initial` is the base64 text as sent (`=` for an empty response).
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    Login {
        user: Vec<u8>,
        password: Vec<u8>,
    },

    // Authenticated (§6.3).
    /// RFC 5161.
    Enable(Vec<String>),
    Select {
        mailbox: Vec<u8>,
        params: SelectParams,
    },
    Examine {
        mailbox: Vec<u8>,
        params: SelectParams,
    },
    /// `CREATE name [(USE (\Sent ...))]` (RFC 6154 §3).
    Create {
        mailbox: Vec<u8>,
        special_use: Vec<String>,
    },
    Delete(Vec<u8>),
    Rename {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Subscribe(Vec<u8>),
    Unsubscribe(Vec<u8>),
    /// LIST, with RFC 5258 LIST-EXTENDED, RFC 6154 and RFC 5819 options.
    List(ListCommand),
    /// IMAP4rev1 LSUB (RFC 3501 §6.3.9).
    Lsub {
        reference: Vec<u8>,
        pattern: Vec<u8>,
    },
    Namespace,
    Status {
        mailbox: Vec<u8>,
        items: Vec<StatusItem>,
    },
    /// One or more messages (RFC 3502 MULTIAPPEND).
    Append {
        mailbox: Vec<u8>,
        messages: Vec<AppendMessage>,
    },
    Idle,
    /// RFC 9208.
    GetQuota(Vec<u8>),
    GetQuotaRoot(Vec<u8>),
    SetQuota {
        root: Vec<u8>,
        limits: Vec<(String, u64)>,
    },
    /// RFC 4978: `COMPRESS DEFLATE`.
    Compress(String),

    // Selected (§6.4).
    Check,
    Close,
    /// RFC 3691.
    Unselect,
    Expunge,
    /// RFC 4315 `UID EXPUNGE set`.
    UidExpunge(SeqSet),
    Search {
        uid: bool,
        search: Search,
    },
    Fetch {
        uid: bool,
        set: SeqSet,
        items: Vec<FetchAtt>,
        modifiers: FetchModifiers,
    },
    Store {
        uid: bool,
        set: SeqSet,
        /// RFC 7162 §3.1.3 `(UNCHANGEDSINCE n)`.
        unchanged_since: Option<u64>,
        op: StoreOp,
        silent: bool,
        flags: Vec<Flag>,
    },
    Copy {
        uid: bool,
        set: SeqSet,
        mailbox: Vec<u8>,
    },
    /// RFC 6851.
    Move {
        uid: bool,
        set: SeqSet,
        mailbox: Vec<u8>,
    },
}

impl Command {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        use Command::*;
        match self {
            Capability => "CAPABILITY",
            Noop => "NOOP",
            Logout => "LOGOUT",
            Id(_) => "ID",
            StartTls => "STARTTLS",
            Authenticate { .. } => "AUTHENTICATE",
            Login { .. } => "LOGIN",
            Enable(_) => "ENABLE",
            Select { .. } => "SELECT",
            Examine { .. } => "EXAMINE",
            Create { .. } => "CREATE",
            Delete(_) => "DELETE",
            Rename { .. } => "RENAME",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            List(_) => "LIST",
            Lsub { .. } => "LSUB",
            Namespace => "NAMESPACE",
            Status { .. } => "STATUS",
            Append { .. } => "APPEND",
            Idle => "IDLE",
            GetQuota(_) => "GETQUOTA",
            GetQuotaRoot(_) => "GETQUOTAROOT",
            SetQuota { .. } => "SETQUOTA",
            Compress(_) => "COMPRESS",
            Check => "CHECK",
            Close => "CLOSE",
            Unselect => "UNSELECT",
            Expunge => "EXPUNGE",
            UidExpunge(_) => "UID EXPUNGE",
            Search { .. } => "SEARCH",
            Fetch { .. } => "FETCH",
            Store { .. } => "STORE",
            Copy { .. } => "COPY",
            Move { .. } => "MOVE",
        }
    }
}

/// SELECT/EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

/// `QRESYNC (uidvalidity modseq [known-uids [(seq-match-data)]])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SeqSet>,
    /// (known sequence numbers, their UIDs).
    pub seq_match: Option<(SeqSet, SeqSet)>,
}

/// LIST with its RFC 5258 options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListCommand {
    pub select: Vec<ListSelect>,
    pub reference: Vec<u8>,
    /// One pattern, or several in parentheses (RFC 5258 §3).
    pub patterns: Vec<Vec<u8>>,
    pub ret: Vec<ListReturn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSelect {
    Subscribed,
    Remote,
    RecursiveMatch,
    /// RFC 6154 §5.
    SpecialUse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturn {
    Subscribed,
    Children,
    /// RFC 6154 §5.
    SpecialUse,
    /// RFC 5819 LIST-STATUS.
    Status(Vec<StatusItem>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    /// IMAP4rev1 only.
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    /// RFC 9051 §6.3.11.
    Deleted,
    /// RFC 8438 STATUS=SIZE.
    Size,
    /// RFC 7162.
    HighestModSeq,
    /// RFC 7889.
    AppendLimit,
}

/// A flag as written in a command (RFC 9051 §2.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    /// `\Recent`: not storable (RFC 3501 §2.3.2); the session refuses it.
    Recent,
    /// Another `\Word` (flag-extension); not storable.
    Extension(String),
    /// A keyword atom, as written (compared case-insensitively).
    Keyword(String),
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    /// INTERNALDATE as seconds since the epoch (UTC).
    pub date: Option<i64>,
    pub data: Vec<u8>,
    /// Sent as `UTF8 (~{n}…)` (RFC 6855 §4) or as a literal8 (RFC 3516).
    pub utf8: bool,
    pub binary: bool,
}

/// SEARCH with its options.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub charset: Option<String>,
    /// `RETURN (...)` (RFC 4731 ESEARCH, RFC 5182 SAVE); None when absent
    /// (an IMAP4rev1 `* SEARCH` answer unless rev2 is enabled).
    pub ret: Option<Vec<SearchReturn>>,
    /// Several keys are ANDed.
    pub key: SearchKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    Save,
}

/// A calendar date (search dates have no time or zone, RFC 9051 §6.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SearchKey {
    All,
    Answered,
    Deleted,
    Draft,
    Flagged,
    Seen,
    Recent,
    New,
    Old,
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unseen,
    Keyword(String),
    Unkeyword(String),
    /// Substring searches (case-insensitive, after MIME decoding).
    Bcc(Vec<u8>),
    Cc(Vec<u8>),
    From(Vec<u8>),
    To(Vec<u8>),
    Subject(Vec<u8>),
    Body(Vec<u8>),
    Text(Vec<u8>),
    /// `HEADER field-name string`; an empty string matches any message
    /// with the field.
    Header(String, Vec<u8>),
    /// INTERNALDATE, compared by date in the server's zone.
    Before(Date),
    On(Date),
    Since(Date),
    /// The Date: header's date, in its own zone.
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Larger(u64),
    Smaller(u64),
    Uid(SeqSet),
    /// A bare sequence set (or `$`).
    Seq(SeqSet),
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    And(Vec<SearchKey>),
    /// RFC 7162 §3.1.5 `MODSEQ ["entry" type] n` (the entry is ignored).
    ModSeq(u64),
}

/// A FETCH data item (macros ALL, FAST and FULL are expanded).
#[derive(Debug, Clone, PartialEq)]
pub enum FetchAtt {
    Envelope,
    Flags,
    InternalDate,
    /// RFC822: the whole message, like BODY[] (sets \Seen).
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    /// BODY without a section: the non-extensible BODYSTRUCTURE.
    Body,
    BodyStructure,
    Uid,
    /// RFC 7162.
    ModSeq,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
    /// RFC 3516 `BINARY[part]<partial>` / `BINARY.PEEK`.
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
    },
    /// RFC 3516 `BINARY.SIZE[part]`.
    BinarySize {
        part: Vec<u32>,
    },
}

/// `section` of RFC 9051 §6.4.5: a part path (1-based, empty for the whole
/// message) and what of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    /// `HEADER.FIELDS (..)` or, with `not`, `HEADER.FIELDS.NOT (..)`.
    HeaderFields {
        not: bool,
        fields: Vec<String>,
    },
    Text,
    /// Only after a part number.
    Mime,
}

/// FETCH modifiers (RFC 7162 §3.1.4, §3.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchModifiers {
    pub changed_since: Option<u64>,
    pub vanished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    Replace,
    Add,
    Remove,
}
