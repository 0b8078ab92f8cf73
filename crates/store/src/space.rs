//! Free-space headroom (`server.min_free_space`), as Postfix's
//! `queue_minfree`: new mail is refused while the disk the node writes has
//! less than the headroom free, so that what keeps users and the operator
//! going — logins, locks, deletions, admin commands — still has room to
//! write. Without it a full disk lets nobody log in to delete mail.
//!
//! The check is a `statvfs` of each path the node writes (`data_dir`, and
//! the SQLite database's directory), plus the free pages inside the SQLite
//! database, which new mail reuses before the file grows (a deletion frees
//! pages, not disk). Its answer is kept for a second, so the hot path pays
//! for it once a second, not once a message. On PostgreSQL the database's
//! own disk is the database server's to watch; the node checks `data_dir`.

use crate::Store;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one reading is used (while far from the headroom).
const FRESH: Duration = Duration::from_secs(1);

/// Too little free space: the path, what is free there, what is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Low {
    pub path: PathBuf,
    pub free: u64,
    pub min: u64,
    /// The declared size that did not fit above the headroom; 0 when the
    /// headroom itself is crossed.
    pub need: u64,
}

/// How much to keep free, given a file system's size in bytes.
pub type MinFree = Box<dyn Fn(u64) -> u64 + Send + Sync>;

pub struct DiskSpace {
    store: Store,
    paths: Vec<PathBuf>,
    min: MinFree,
    last: Mutex<Option<Reading>>,
}

/// One measurement: the path with the least room above its headroom.
#[derive(Clone, Copy)]
struct Reading {
    at: Instant,
    /// (index into `paths`, free, headroom): Copy, so the hot path's
    /// clone of a reading allocates nothing.
    tightest: Option<(usize, u64, u64)>,
}

impl DiskSpace {
    /// `paths`: the directories the node writes besides the SQLite
    /// database (whose directory is added here).
    pub fn new(store: Store, mut paths: Vec<PathBuf>, min: MinFree) -> DiskSpace {
        if let Some(db) = db_dir(&store) {
            if !paths.contains(&db) {
                paths.push(db);
            }
        }
        DiskSpace {
            store,
            paths,
            min,
            last: Mutex::new(None),
        }
    }

    /// Err while some path has less free than its headroom, or than the
    /// headroom plus `need` (a message's declared SIZE, RFC 1870 §6.1).
    pub async fn check(&self, need: u64) -> Result<(), Low> {
        // A reading is used for a second, and only while the room above
        // the headroom is larger than the headroom itself: near the line,
        // every MAIL reads afresh (a statvfs and a pragma, microseconds).
        let cached = (*self.last.lock().unwrap_or_else(|e| e.into_inner())).filter(|r| {
            r.at.elapsed() < FRESH
                && r.tightest
                    .as_ref()
                    .is_none_or(|(_, free, min)| *free / 2 > *min)
        });
        let reading = match cached {
            Some(r) => r,
            None => self.read().await,
        };
        match reading.tightest {
            Some((i, free, min)) if free < min.saturating_add(need) => Err(Low {
                path: self.paths[i].clone(),
                free,
                min,
                need: if free < min { 0 } else { need },
            }),
            _ => Ok(()),
        }
    }

    /// Counts `bytes` just written against the kept reading, so that a
    /// second of fast traffic cannot run past the headroom unseen. SQLite
    /// writes a message twice (the WAL, then the database at a
    /// checkpoint), so it counts twice there.
    pub fn charge(&self, bytes: u64) {
        let bytes = if self.store.sqlite_path().is_some() {
            bytes.saturating_mul(2)
        } else {
            bytes
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, free, _)) = last.as_mut().and_then(|r| r.tightest.as_mut()) {
            *free = free.saturating_sub(bytes);
        }
    }

    /// A fresh reading, kept; logs when the headroom is crossed either way
    /// (once per crossing).
    async fn read(&self) -> Reading {
        let reusable = self.store.reusable_bytes().await.unwrap_or(0);
        // Paths are grouped by file system: the database's free pages are
        // free space for every path on its file system, and each file
        // system is read once.
        let dev = |p: &std::path::Path| rustix::fs::stat(p).ok().map(|s| s.st_dev);
        let db_dev = db_dir(&self.store).and_then(|d| dev(&d));
        let mut seen = Vec::new();
        let tightest = self
            .paths
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let d = dev(p);
                if d.is_some() && seen.contains(&d) {
                    return None;
                }
                seen.push(d);
                let (free, size) = statvfs(p)?;
                let free = free
                    + if d.is_some() && d == db_dev {
                        reusable
                    } else {
                        0
                    };
                Some((i, free, (self.min)(size)))
            })
            .min_by_key(|(_, free, min)| *free as i128 - *min as i128);
        let reading = Reading {
            at: Instant::now(),
            tightest,
        };
        let low = |r: &Reading| r.tightest.filter(|(_, free, min)| free < min);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let was_low = (*last).and_then(|r| low(&r)).is_some();
        match (low(&reading), was_low) {
            (Some((i, free, min)), false) => tracing::warn!(
                path = %self.paths[i].display(),
                free,
                min_free_space = min,
                "free space below server.min_free_space: new mail is refused (452 4.3.1) until there is more"
            ),
            (None, true) => {
                tracing::info!("free space above server.min_free_space again: new mail is accepted")
            }
            _ => {}
        }
        *last = Some(reading);
        reading
    }
}

/// The SQLite database's directory ("." for a bare file name).
fn db_dir(store: &Store) -> Option<PathBuf> {
    let dir = store.sqlite_path()?.parent()?;
    Some(if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    })
}

/// (bytes free to unprivileged users, size) of the file system at `path`;
/// None if it cannot be read (then it refuses nothing).
fn statvfs(path: &std::path::Path) -> Option<(u64, u64)> {
    match rustix::fs::statvfs(path) {
        Ok(s) => Some((
            s.f_bavail.saturating_mul(s.f_frsize),
            s.f_blocks.saturating_mul(s.f_frsize),
        )),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "statvfs failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn headroom_of_the_whole_disk_refuses_and_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("m.db").display()))
            .await
            .unwrap();
        // Keeping more than the disk holds: always low.
        let space = DiskSpace::new(store.clone(), vec![], Box::new(|size| size + 1));
        let low = space.check(0).await.unwrap_err();
        assert_eq!(low.path, dir.path());
        assert!(low.free < low.min);
        // Keeping nothing: never low, unless a message would not fit.
        let space = DiskSpace::new(store, vec![dir.path().into()], Box::new(|_| 0));
        assert_eq!(
            space.paths.len(),
            1,
            "the db's directory is not listed twice"
        );
        assert!(space.check(0).await.is_ok());
        assert!(space.check(1024).await.is_ok());
        assert!(space.check(u64::MAX / 2).await.is_err());
    }
}
