//! IMAP folders (R-POP-5): each mailbox's folders with the counters that
//! SELECT and STATUS answer from, subscriptions and keywords.
//!
//! Names are UTF-8 with `/` as the hierarchy separator; `INBOX` is always
//! spelled so (the session folds the client's spelling, RFC 9051 §5.1).
//! A folder's id is its UIDVALIDITY: ids are never given twice, so RENAME
//! keeps it and a folder deleted and made again gets a new one (RFC 9051
//! §2.3.1.1).
//!
//! Every change to a folder's messages bumps its MODSEQ in the same
//! transaction and stamps the changed entries (or their tombstones) with
//! it, so a session learns everything that happened since the MODSEQ it
//! knows from two indexed reads ([`Store::folder_changes`]).

use crate::db::{Row, Stmt};
use crate::{now_ms, Result, Store, StoreError};

/// Flag bits of `entries.flags`; keywords take bits from
/// [`FIRST_KEYWORD_BIT`] up, as numbered per account in `keywords`.
pub const SEEN: i64 = 1;
pub const ANSWERED: i64 = 2;
pub const FLAGGED: i64 = 4;
pub const DELETED: i64 = 8;
pub const DRAFT: i64 = 16;
pub const FIRST_KEYWORD_BIT: u32 = 5;
/// Bits 5..=62: the sign bit stays clear so that every backend compares
/// the same.
pub const MAX_KEYWORDS: u32 = 58;

/// The folders every new mailbox gets, with their RFC 6154 use.
pub const DEFAULT_FOLDERS: [(&str, Option<&str>); 6] = [
    ("INBOX", None),
    ("Sent", Some("\\Sent")),
    ("Drafts", Some("\\Drafts")),
    ("Trash", Some("\\Trash")),
    ("Junk", Some("\\Junk")),
    ("Archive", Some("\\Archive")),
];

/// The special uses a folder may have (RFC 6154 §2, without \All and
/// \Flagged, which are virtual folders we do not have).
pub const SPECIAL_USES: [&str; 5] = ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Folder {
    pub id: i64,
    pub name: String,
    pub special: Option<String>,
    pub uidnext: u32,
    pub modseq: u64,
    pub messages: u32,
    pub unseen: u32,
    pub deleted: u32,
    pub size: u64,
    /// IMAP4rev1 \Recent: UIDs above this have not been seen by a session
    /// that selected the folder.
    pub recent_uid: u32,
}

impl Folder {
    pub fn uidvalidity(&self) -> u32 {
        self.id as u32
    }
}

macro_rules! folder_cols {
    () => {
        "id, name, special, uidnext, modseq, messages, unseen, deleted, size, recent_uid"
    };
}

fn folder_row(r: &Row) -> Result<Folder> {
    let n = |i: usize| -> Result<u32> { Ok(r.i64(i)?.clamp(0, u32::MAX as i64) as u32) };
    Ok(Folder {
        id: r.i64(0)?,
        name: r.text(1)?,
        special: r.opt_text(2)?,
        uidnext: n(3)?,
        modseq: r.i64(4)?.max(0) as u64,
        messages: n(5)?,
        unseen: n(6)?,
        deleted: n(7)?,
        size: r.i64(8)?.max(0) as u64,
        recent_uid: n(9)?,
    })
}

/// The statements that give a new mailbox its folders, subscribed.
pub(crate) fn default_folder_stmts(address: &str) -> Vec<Stmt> {
    let now = now_ms();
    let mut out = Vec::with_capacity(DEFAULT_FOLDERS.len() * 2);
    for (name, special) in DEFAULT_FOLDERS {
        out.push(Stmt::new(
            "INSERT INTO folders (account_id, name, special, created_at)
             SELECT id, ?, ?, ? FROM addresses WHERE address = ? AND kind = 'mailbox'",
            vec![
                name.into(),
                special.map(str::to_string).into(),
                now.into(),
                address.into(),
            ],
        ));
        out.push(Stmt::new(
            "INSERT INTO subscriptions (account_id, name)
             SELECT id, ? FROM addresses WHERE address = ? AND kind = 'mailbox'",
            vec![name.into(), address.into()],
        ));
    }
    out
}

/// Everything IMAP keeps of a mailbox, for its deletion (its entries and
/// bodies go with the mailbox's other statements).
pub(crate) fn drop_account_stmts(account: i64) -> Vec<Stmt> {
    vec![
        Stmt::new(
            "DELETE FROM expunged WHERE folder_id IN (SELECT id FROM folders WHERE account_id = ?)",
            vec![account.into()],
        ),
        Stmt::new(
            "DELETE FROM folders WHERE account_id = ?",
            vec![account.into()],
        ),
        Stmt::new(
            "DELETE FROM subscriptions WHERE account_id = ?",
            vec![account.into()],
        ),
        Stmt::new(
            "DELETE FROM keywords WHERE account_id = ?",
            vec![account.into()],
        ),
        Stmt::new(
            "DELETE FROM mail_sessions WHERE account_id = ?",
            vec![account.into()],
        ),
    ]
}

/// Summaries whose body is gone.
pub(crate) const DROP_ORPHAN_SUMMARIES: &str =
    "DELETE FROM summaries WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = summaries.blob_id)";

impl Store {
    /// The account's folders, by name.
    pub async fn folders(&self, account: i64) -> Result<Vec<Folder>> {
        let rows = self
            .query(
                concat!(
                    "SELECT ",
                    folder_cols!(),
                    " FROM folders WHERE account_id = ? ORDER BY name"
                ),
                vec![account.into()],
            )
            .await?;
        rows.iter().map(folder_row).collect()
    }

    pub async fn folder(&self, account: i64, name: &str) -> Result<Option<Folder>> {
        let rows = self
            .lookup(
                concat!(
                    "SELECT ",
                    folder_cols!(),
                    " FROM folders WHERE account_id = ? AND name = ?"
                ),
                vec![account.into(), name.into()],
            )
            .await?;
        rows.first().map(folder_row).transpose()
    }

    pub async fn folder_by_id(&self, id: i64) -> Result<Option<Folder>> {
        let rows = self
            .lookup(
                concat!("SELECT ", folder_cols!(), " FROM folders WHERE id = ?"),
                vec![id.into()],
            )
            .await?;
        rows.first().map(folder_row).transpose()
    }

    /// Creates a folder; `Conflict` if the name is taken.
    pub async fn folder_create(
        &self,
        account: i64,
        name: &str,
        special: Option<&str>,
    ) -> Result<Folder> {
        self.batch(vec![Stmt::new(
            "INSERT INTO folders (account_id, name, special, created_at) VALUES (?, ?, ?, ?)",
            vec![
                account.into(),
                name.into(),
                special.map(str::to_string).into(),
                now_ms().into(),
            ],
        )])
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("{name} already exists")),
            e => e,
        })?;
        self.folder(account, name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{name} vanished")))
    }

    /// Deletes a folder and its messages (their bytes return to the
    /// quota, bodies no other entry holds are freed).
    pub async fn folder_delete(&self, account: i64, folder: i64) -> Result<()> {
        let mut stmts = vec![
            Stmt::new(
                "UPDATE addresses SET used = used - (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT)
                   FROM entries WHERE folder_id = ?) WHERE id = ?",
                vec![folder.into(), account.into()],
            ),
            Stmt::new(
                "DELETE FROM blobs WHERE id IN (SELECT blob_id FROM entries WHERE folder_id = ?)
                   AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id AND e.folder_id <> ?)
                   AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)",
                vec![folder.into(), folder.into()],
            ),
            Stmt::new(DROP_ORPHAN_SUMMARIES, vec![]),
            Stmt::new("DELETE FROM entries WHERE folder_id = ?", vec![folder.into()]),
            Stmt::new("DELETE FROM expunged WHERE folder_id = ?", vec![folder.into()]),
            Stmt::new(
                "DELETE FROM folders WHERE id = ? AND account_id = ?",
                vec![folder.into(), account.into()],
            )
            .must_change(StoreError::NotFound("no such folder".into())),
        ];
        stmts.extend(crate::quota::settle_stmts(account, self.default_quota()));
        self.batch(stmts).await?;
        Ok(())
    }

    /// Renames folders: each `(id, new name)` at once (a folder and its
    /// children). `Conflict` when a new name is taken.
    pub async fn folder_rename(&self, account: i64, renames: &[(i64, String)]) -> Result<()> {
        // Through a name no folder can have first, so that a rename that
        // shifts names within the set never collides with itself.
        let mut stmts = Vec::with_capacity(renames.len() * 2);
        for (id, _) in renames {
            stmts.push(
                Stmt::new(
                    "UPDATE folders SET name = ? WHERE id = ? AND account_id = ?",
                    vec![
                        format!("\u{1}rename\u{1}{id}").into(),
                        (*id).into(),
                        account.into(),
                    ],
                )
                .must_change(StoreError::NotFound("no such folder".into())),
            );
        }
        for (id, name) in renames {
            stmts.push(Stmt::new(
                "UPDATE folders SET name = ? WHERE id = ? AND account_id = ?",
                vec![name.into(), (*id).into(), account.into()],
            ));
        }
        self.batch(stmts).await.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict("the new name already exists".into()),
            e => e,
        })?;
        Ok(())
    }

    /// RFC 9051 §6.3.6: renaming INBOX moves its messages to a new folder
    /// `to` and leaves INBOX empty. The messages keep their UIDs (the new
    /// folder has its own UIDVALIDITY); INBOX sees them expunged.
    pub async fn inbox_rename(&self, account: i64, inbox: i64, to: &str) -> Result<()> {
        let now = now_ms();
        let stmts = vec![
            Stmt::new(
                "INSERT INTO folders (account_id, name, uidnext, modseq, messages, unseen, deleted, size, created_at)
                 SELECT account_id, ?, uidnext, modseq, messages, unseen, deleted, size, ? FROM folders WHERE id = ?",
                vec![to.into(), now.into(), inbox.into()],
            )
            .must_change(StoreError::NotFound("no INBOX".into())),
            Stmt::new(
                "UPDATE folders SET modseq = modseq + 1 WHERE id = ?",
                vec![inbox.into()],
            ),
            Stmt::new(
                "INSERT INTO expunged (folder_id, uid, modseq)
                 SELECT folder_id, imap_uid, (SELECT modseq FROM folders WHERE id = ?) FROM entries WHERE folder_id = ?",
                vec![inbox.into(), inbox.into()],
            ),
            Stmt::new(
                "UPDATE entries SET folder_id = (SELECT id FROM folders WHERE account_id = ? AND name = ?)
                 WHERE folder_id = ?",
                vec![account.into(), to.into(), inbox.into()],
            ),
            Stmt::new(
                "UPDATE folders SET messages = 0, unseen = 0, deleted = 0, size = 0 WHERE id = ?",
                vec![inbox.into()],
            ),
        ];
        self.batch(stmts).await.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("{to} already exists")),
            e => e,
        })?;
        Ok(())
    }

    /// Claims \Recent (IMAP4rev1): moves the folder's mark from `old` to
    /// `new` if no other session moved it first. True when claimed.
    pub async fn claim_recent(&self, folder: i64, old: u32, new: u32) -> Result<bool> {
        let n = self
            .batch(vec![Stmt::new(
                "UPDATE folders SET recent_uid = ? WHERE id = ? AND recent_uid = ?",
                vec![(new as i64).into(), folder.into(), (old as i64).into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0) == 1)
    }

    /// Messages of a folder above a UID (STATUS RECENT).
    pub async fn count_above(&self, folder: i64, uid: u32) -> Result<u64> {
        let rows = self
            .lookup(
                "SELECT COUNT(*) FROM entries WHERE folder_id = ? AND imap_uid > ?",
                vec![folder.into(), (uid as i64).into()],
            )
            .await?;
        Ok(rows
            .first()
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0)
            .max(0) as u64)
    }

    pub async fn subscriptions(&self, account: i64) -> Result<Vec<String>> {
        let rows = self
            .query(
                "SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name",
                vec![account.into()],
            )
            .await?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    /// SUBSCRIBE / UNSUBSCRIBE (RFC 9051 §6.3.7: a name may be subscribed
    /// whether or not the folder exists).
    pub async fn subscribe(&self, account: i64, name: &str, on: bool) -> Result<()> {
        let stmt = if on {
            Stmt::new(
                "INSERT INTO subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                vec![account.into(), name.into()],
            )
        } else {
            Stmt::new(
                "DELETE FROM subscriptions WHERE account_id = ? AND name = ?",
                vec![account.into(), name.into()],
            )
        };
        self.batch(vec![stmt]).await?;
        Ok(())
    }

    /// The account's keywords: `(bit, name)`.
    pub async fn keywords(&self, account: i64) -> Result<Vec<(u32, String)>> {
        let rows = self
            .lookup(
                "SELECT bit, name FROM keywords WHERE account_id = ? ORDER BY bit",
                vec![account.into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.i64(0)? as u32, r.text(1)?)))
            .collect()
    }

    /// Gives each keyword in `names` a bit, adding those the account does
    /// not have yet; returns the whole list. `Invalid` when the account
    /// would pass [`MAX_KEYWORDS`].
    pub async fn keywords_add(&self, account: i64, names: &[String]) -> Result<Vec<(u32, String)>> {
        for _ in 0..5 {
            let have = self.keywords(account).await?;
            let mut next = have
                .iter()
                .map(|(b, _)| b + 1)
                .max()
                .unwrap_or(FIRST_KEYWORD_BIT);
            let mut stmts = Vec::new();
            let mut seen: Vec<String> = Vec::new();
            for n in names {
                let folded = n.to_ascii_lowercase();
                if have.iter().any(|(_, h)| h.to_ascii_lowercase() == folded)
                    || seen.contains(&folded)
                {
                    continue;
                }
                if next >= FIRST_KEYWORD_BIT + MAX_KEYWORDS {
                    return Err(StoreError::Invalid(format!(
                        "a mailbox may have at most {MAX_KEYWORDS} keywords"
                    )));
                }
                stmts.push(Stmt::new(
                    "INSERT INTO keywords (account_id, bit, name, folded) VALUES (?, ?, ?, ?)",
                    vec![
                        account.into(),
                        (next as i64).into(),
                        n.into(),
                        folded.clone().into(),
                    ],
                ));
                seen.push(folded);
                next += 1;
            }
            if stmts.is_empty() {
                return Ok(have);
            }
            // Another session adding keywords at once takes the same bits:
            // the loser reads again and retries.
            if self.batch_guarded(stmts).await? {
                return self.keywords(account).await;
            }
        }
        Err(StoreError::Backend(
            "keywords: too many concurrent changes".into(),
        ))
    }
}
