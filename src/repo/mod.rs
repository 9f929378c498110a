//! A dataset on disk: the working folder, `.coffer/` (config, refs, caches, lock) and its
//! embedded store; and the keys the caller's identity unlocks in it.

pub mod checkout;
pub mod clone;
pub mod commit;
pub mod index;
pub mod merge;
pub mod read;
pub mod rebase;
pub mod reseal;
pub mod scan;
pub mod statcache;
pub mod worktree;

use crate::crypto::keys::{EpochKeys, EpochSecret};
use crate::error::{Error, IoContext, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::policy::Policy;
use crate::rules::{chain, Chain, History};
use crate::store::{self, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the dataset folder inside the working folder.
pub const DOT: &str = ".coffer";
/// Name of the ignore file at the top of the working folder.
pub const IGNORE_FILE: &str = ".cofferignore";
/// Where `.coffer/` is built before it is renamed into place.
pub const INIT_TMP: &str = ".coffer.init-tmp";
/// File in `.coffer/` naming the one folder a partial clone holds.
pub const PARTIAL: &str = "partial";
/// In `.coffer/` from the moment a clone's dataset is in place until its checkout has
/// finished: running the same clone again finishes it.
pub const CLONE_PENDING: &str = "clone-pending";
/// What to tell someone working in a folder whose clone has not finished.
pub const CLONE_PENDING_HINT: &str = "a clone into this folder stopped before its checkout \
     finished, so the files it had not written yet look removed: run the same `coffer clone` \
     again to finish it";
/// Branch used until branches arrive.
pub const DEFAULT_BRANCH: &str = "main";

/// `.coffer/config.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Config {
    /// Layout version of `.coffer/`.
    pub format: u32,
    /// Dataset id (hex).
    pub dataset: String,
    /// Current branch.
    pub branch: String,
}

/// Whether `id` is a policy this store holds past a fork (on a side's line beyond a nested
/// fork, which the walk leaves detached): a folder that accepted it before the fork became
/// visible has not been rolled back. Only while the chain shows a fork, or a repaired one.
fn beyond_a_fork(chain: &Chain, id: &Id) -> bool {
    let forked = !chain.fork.is_empty() || chain.repaired_sides().next().is_some();
    forked
        && chain
            .refused
            .iter()
            .any(|(i, r)| i == id && r.rule == crate::rules::Rule::PolicyDetached)
}

/// An open dataset.
pub struct Dataset {
    /// The working folder.
    pub root: PathBuf,
    /// `root/.coffer`.
    pub dot: PathBuf,
    /// Parsed config.
    pub config: Config,
    /// Dataset id.
    pub id: Id,
    /// The embedded store.
    pub store: Store,
}

/// Epoch keys the caller holds, by epoch.
pub struct Keyring {
    /// The dataset.
    pub dataset: Id,
    /// Who holds these keys: the member's label, or the public identity of a non-member.
    pub who: String,
    /// Keys by epoch number.
    pub epochs: BTreeMap<u32, EpochKeys>,
    /// The epoch new data is sealed under.
    pub current: u32,
}

impl Keyring {
    /// Keys of one epoch.
    pub fn get(&self, epoch: u32) -> Option<EpochKeys> {
        self.epochs.get(&epoch).cloned()
    }
    /// Keys of the current epoch.
    pub fn current(&self) -> Option<&EpochKeys> {
        self.epochs.get(&self.current)
    }
    /// Whether these keys open version `v`: its seal and every pack it lists. Keys are never
    /// taken back, so a version these keys do not open was never checked out with them.
    pub fn reads(&self, hist: &crate::rules::History, v: &crate::object::version::Version) -> bool {
        hist.epochs_needed(v)
            .iter()
            .all(|e| self.epochs.contains_key(e))
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    t.saturating_add_signed(crate::testhook::clock_shift())
}

/// Write a small file atomically: temp file, fsync, rename, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| std::io::Write::write_all(w, bytes))
}

/// [`write_atomic`] with the contents streamed by `fill` (large caches are never held
/// encoded in memory).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    fill(&mut f.w).at(&f.tmp)?;
    f.finish()
}

/// A file written under a temporary name and renamed into place by [`AtomicFile::finish`],
/// durably; dropped unfinished, the temporary file is removed and `path` is untouched.
pub(crate) struct AtomicFile {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    /// Where the contents go.
    pub w: std::io::BufWriter<std::fs::File>,
    done: bool,
}

impl AtomicFile {
    /// Start writing what will replace `path`.
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let tmp = path.with_extension("tmp");
        let w = std::io::BufWriter::new(std::fs::File::create(&tmp).at(&tmp)?);
        Ok(AtomicFile {
            path: path.into(),
            tmp,
            w,
            done: false,
        })
    }

    /// Flush, fsync, rename into place and fsync the folder.
    pub fn finish(mut self) -> Result<()> {
        self.w.flush().at(&self.tmp)?;
        self.w.get_ref().sync_all().at(&self.tmp)?;
        std::fs::rename(&self.tmp, &self.path).at(&self.path)?;
        self.done = true;
        // The rename is durable only once the folder entry is.
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .at(dir)?;
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write a local cache as CBOR, streamed.
pub(crate) fn save_cache<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomic_with(path, |w| {
        ciborium::into_writer(value, w).map_err(std::io::Error::other)
    })
}

/// Read a local cache; `None` if missing or unreadable (caches are rebuilt, never trusted
/// for integrity).
pub(crate) fn load_cache<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let f = std::fs::File::open(path).ok()?;
    ciborium::from_reader(std::io::BufReader::new(f)).ok()
}

/// Paths a commit walks, or a checkout into an empty folder writes, per batch: what memory
/// holds at once, whatever the number of files.
pub(crate) fn batch_size() -> usize {
    crate::testhook::batch(1 << 16)
}

/// A byte-progress bar on stderr, or a hidden one when `enabled` is false.
pub fn progress_bar(enabled: bool, total: u64) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {binary_bytes_per_sec} {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

/// Unwrap every epoch key `identity` was ever given in the chain of `dataset`: a member keeps
/// the epochs it could read before a withdrawal, and gets none after it.
pub fn keyring(dataset: &Id, chain: &Chain, identity: &Identity) -> Result<Keyring> {
    let public = identity.public();
    let label = chain
        .member_by_sign_key(&public.sign)
        .map(|m| m.label().to_string())
        .unwrap_or_else(|| public.to_string());
    let mut epochs: BTreeMap<u32, EpochKeys> = chain
        .secrets_for(identity)
        .iter()
        .map(|(e, s)| (*e, EpochKeys::derive(*e, s)))
        .collect();
    if epochs.is_empty() {
        return Err(crate::rules::not_allowed(
            chain,
            &public.sign,
            crate::rules::Needs::Read,
        ));
    }
    // Its own losing repair's epochs, for its own versions made under them (only to read).
    for (e, s) in chain.own_aside_secrets(identity) {
        epochs.entry(e).or_insert_with(|| EpochKeys::derive(e, &s));
    }
    Ok(Keyring {
        dataset: *dataset,
        who: label,
        epochs,
        current: chain.tip().1.epoch,
    })
}

/// Whether `path` is inside folder `prefix`, is it, or is one of its parent folders.
pub fn in_scope(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
        || prefix
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Exclusive lock on the dataset, released on drop.
pub struct Lock(#[allow(dead_code)] std::fs::File);

impl Dataset {
    /// Find the dataset containing `start` (it or a parent holds `.coffer/`).
    pub fn find(start: &Path) -> Result<Dataset> {
        let abs = std::fs::canonicalize(start).at(start)?;
        let mut cur = Some(abs.as_path());
        while let Some(dir) = cur {
            if dir.join(DOT).join("config.json").is_file() {
                return Dataset::open(dir);
            }
            cur = dir.parent();
        }
        Err(Error::NotADataset(abs))
    }

    fn open(root: &Path) -> Result<Dataset> {
        Dataset::open_dot(root, root.join(DOT))
    }

    fn open_dot(root: &Path, dot: PathBuf) -> Result<Dataset> {
        let cfg_path = dot.join("config.json");
        let bytes = std::fs::read(&cfg_path).at(&cfg_path)?;
        let config: Config = serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            what: "dataset config",
            reason: format!("{}: {e}", cfg_path.display()),
        })?;
        if config.format != 1 {
            return Err(Error::UnknownVersion {
                what: "dataset config",
                found: config.format as u64,
                supported: 1,
            });
        }
        let id = Id::from_hex(&config.dataset).ok_or_else(|| Error::Malformed {
            what: "dataset config",
            reason: "dataset id is not 64 hex digits".into(),
        })?;
        let mut store = Store::open_local(&dot.join("store"))?;
        if dot.join(PARTIAL).exists() {
            // A partial clone reads what it lacks from origin (no request until then).
            let remotes: BTreeMap<String, crate::remote::RemoteConfig> =
                std::fs::read(dot.join("remotes.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
            if let Some(o) = remotes.get(crate::remote::DEFAULT_REMOTE) {
                store = store.with_fallback(Store::open_url(&o.url, &o.options)?);
            }
        }
        Ok(Dataset {
            root: root.to_path_buf(),
            dot,
            config,
            id,
            store,
        })
    }

    /// Make `root` a dataset owned by `identity`.
    pub fn init(root: &Path, identity: &Identity, name: Option<&str>) -> Result<Dataset> {
        let root = std::fs::canonicalize(root).at(root)?;
        let dot = root.join(DOT);
        if dot.exists() {
            return Err(Error::AlreadyADataset(root));
        }
        let name = name
            .map(str::to_string)
            .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "dataset".into());
        let public = identity.public();
        let secret = EpochSecret::generate();
        let policy = Policy::genesis(
            name,
            now(),
            identity.name.clone(),
            public.sign,
            public.kx,
            &secret,
        )?;
        let (id, bytes) = policy.sign(identity.signing_key());
        Dataset::create(
            &root,
            id,
            false,
            |store| {
                store.put_new(&store::policy_path(&id), bytes)?;
                Ok(())
            },
            |_| Ok(None),
        )
    }

    /// Lay out `.coffer/` for dataset `id` in a temporary folder, let `fill` put objects in its
    /// store, let `then` work on the half-made dataset and name the branch head, then rename
    /// it into place: a crash leaves no half-made dataset. With `resume`, a temporary folder
    /// left by an interrupted run for the same dataset is reused (its objects stay).
    pub(crate) fn create(
        root: &Path,
        id: Id,
        resume: bool,
        fill: impl FnOnce(&Store) -> Result<()>,
        then: impl FnOnce(&Dataset) -> Result<Option<Id>>,
    ) -> Result<Dataset> {
        let dot = root.join(DOT);
        if dot.exists() {
            return Err(Error::AlreadyADataset(root.to_path_buf()));
        }
        let tmp = root.join(INIT_TMP);
        let same = std::fs::read(tmp.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Config>(&b).ok())
            .is_some_and(|c| c.dataset == id.to_hex());
        if !(resume && same) {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        for d in ["refs", "cache"] {
            std::fs::create_dir_all(tmp.join(d)).at(tmp.join(d))?;
        }
        let store = Store::open_local(&tmp.join("store"))?;
        fill(&store)?;
        drop(store);
        let config = Config {
            format: 1,
            dataset: id.to_hex(),
            branch: DEFAULT_BRANCH.into(),
        };
        let json = serde_json::to_vec_pretty(&config).unwrap_or_default();
        write_atomic(&tmp.join("config.json"), &json)?;
        let half = Dataset::open_dot(root, tmp.clone())?;
        if let Some(h) = then(&half)? {
            half.set_head(&h)?;
        }
        drop(half);
        std::fs::rename(&tmp, &dot).at(&dot)?;
        Dataset::open(root)
    }

    /// Whether this folder is a clone whose checkout has not finished ([`CLONE_PENDING`]).
    pub fn clone_pending(&self) -> bool {
        self.dot.join(CLONE_PENDING).exists()
    }

    /// Mark a clone's checkout finished: the folder now holds a whole version.
    pub(crate) fn clone_finished(&self) -> Result<()> {
        let p = self.dot.join(CLONE_PENDING);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(&p),
            _ => Ok(()),
        }
    }

    /// The folder a partial clone (`clone --path`) holds, if this is one.
    pub fn partial(&self) -> Option<String> {
        std::fs::read_to_string(self.dot.join(PARTIAL))
            .ok()
            .map(|s| s.trim().trim_matches('/').to_string())
    }

    /// Take the writer lock; fails at once if another process holds it.
    pub fn lock(&self) -> Result<Lock> {
        let p = self.dot.join("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .at(&p)?;
        match f.try_lock() {
            Ok(()) => Ok(Lock(f)),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(p)),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::Io { path: p, source: e }),
        }
    }

    fn ref_path(&self) -> PathBuf {
        self.dot.join("refs").join(&self.config.branch)
    }

    /// The branch head, if any version exists.
    pub fn head(&self) -> Result<Option<Id>> {
        let p = self.ref_path();
        match std::fs::read_to_string(&p) {
            Ok(s) => Id::from_hex(s.trim())
                .map(Some)
                .ok_or_else(|| Error::Malformed {
                    what: "branch ref",
                    reason: format!("{} does not hold a version id", p.display()),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io { path: p, source: e }),
        }
    }

    /// Whether the working folder holds nothing but `.coffer/`.
    pub fn holds_nothing(&self) -> Result<bool> {
        Ok(std::fs::read_dir(&self.root).at(&self.root)?.all(|e| {
            e.is_ok_and(|e| {
                e.file_name() == DOT
                    || e.file_type()
                        .is_ok_and(|t| scan::checkout_temp_pid(&e.path(), 1, t).is_some())
            })
        }))
    }

    /// Move the branch head (atomically).
    pub fn set_head(&self, id: &Id) -> Result<()> {
        write_atomic(&self.ref_path(), format!("{id}\n").as_bytes())
    }

    /// The policy chain, walked from the genesis policy (whose id is the dataset id).
    ///
    /// The longest chain this dataset folder has seen is recorded in `.coffer/seen-policy`; a
    /// store showing a shorter one (a policy deleted, an older chain replayed) is an error.
    pub fn chain(&self) -> Result<Chain> {
        let chain = chain::load(&self.store, &self.id)?;
        self.check_not_rolled_back(&chain)?;
        Ok(chain)
    }

    /// The newest policy this folder has accepted (`.coffer/seen-policy`): its seq and id.
    pub fn seen_policy(&self) -> Option<(u64, Id)> {
        let s = std::fs::read_to_string(self.dot.join("seen-policy")).ok()?;
        let (n, id) = s.trim().split_once(' ')?;
        Some((n.parse().ok()?, Id::from_hex(id)?))
    }

    /// Record `(seq, id)` as the newest policy seen, replacing one of the same `seq`: only
    /// for a policy made here and never published, signed again (spec §11.1).
    pub(crate) fn replace_seen_policy(&self, seq: u64, id: &Id) -> Result<()> {
        write_atomic(
            &self.dot.join("seen-policy"),
            format!("{seq} {id}\n").as_bytes(),
        )
    }

    /// Compare the chain with the longest one this folder has seen, and record it if longer.
    /// A policy seen before that is now a side of an unrepaired fork is not a rollback (the
    /// fork is reported, and its withdrawals still apply, spec §10.1c).
    pub fn check_not_rolled_back(&self, chain: &Chain) -> Result<()> {
        let (tip_id, tip) = chain.tip();
        let path = self.dot.join("seen-policy");
        match self.seen_policy() {
            // Seen on a side of a fork: not a rollback. Once the fork is repaired and the
            // chain has passed it, the tip is what this folder has seen.
            Some((n, id))
                if (chain.knows(&id) || beyond_a_fork(chain, &id)) && chain.get(&id).is_none() =>
            {
                if chain.fork.is_empty() && tip.seq >= n {
                    write_atomic(&path, format!("{} {}\n", tip.seq, tip_id).as_bytes())?;
                }
            }
            Some((n, id)) if n > tip.seq || (n == tip.seq && id != *tip_id) => {
                return Err(Error::Corrupt {
                    kind: "policy",
                    id,
                    reason: format!(
                        "this dataset has seen policy seq {n} ({}), but the store's chain ends at seq {} ({}): a policy was removed or an older chain replayed",
                        id.short(),
                        tip.seq,
                        tip_id.short()
                    ),
                });
            }
            Some((n, _)) if n == tip.seq => {}
            _ => write_atomic(&path, format!("{} {}\n", tip.seq, tip_id).as_bytes())?,
        }
        Ok(())
    }

    /// Unwrap every epoch key `identity` was ever given in the chain.
    pub fn keyring(&self, chain: &Chain, identity: &Identity) -> Result<Keyring> {
        keyring(&self.id, chain, identity)
    }

    /// Every version of the store judged by the rules under the accepted chain: what every
    /// command that reads or extends history starts from (spec/format.md §9).
    pub fn history(&self) -> Result<History> {
        let chain = self.chain()?;
        let opened = store::reader::all_versions(&self.store)?;
        let wanted: BTreeSet<Id> = opened
            .versions
            .values()
            .flat_map(|v| v.packs.iter().copied())
            .collect();
        let epochs = self.pack_epochs(&wanted)?;
        Ok(History::evaluate(
            chain,
            opened.versions,
            opened.junk,
            |p| epochs.get(p).copied(),
        ))
    }

    /// The trailer epochs of the `wanted` packs that the store holds (a partial clone: or
    /// its origin), from `.coffer/cache/epochs` where already read. Packs are immutable and
    /// named by their hash, so a cached epoch never goes stale; a pack that left the store
    /// is left out.
    pub fn pack_epochs(&self, wanted: &BTreeSet<Id>) -> Result<HashMap<Id, u32>> {
        let path = self.dot.join("cache").join("epochs");
        let mut cached: HashMap<Id, u32> = load_cache::<Vec<(Id, u32)>>(&path)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut listed: HashMap<Id, u64> = self.store.list_ids("packs")?.into_iter().collect();
        if let Some(origin) = self.store.fallback() {
            for (id, size) in origin.list_ids("packs")? {
                listed.entry(id).or_insert(size);
            }
        }
        let todo: Vec<(Id, u64)> = wanted
            .iter()
            .filter(|p| !cached.contains_key(p))
            .filter_map(|p| listed.get(p).map(|s| (*p, *s)))
            .collect();
        if !todo.is_empty() {
            cached.extend(store::reader::trailer_epochs(&self.store, &todo)?);
            let v: Vec<(&Id, &u32)> = cached.iter().collect();
            // A cache that cannot be written costs time on the next run, never correctness.
            let _ = save_cache(&path, &v);
        }
        Ok(wanted
            .iter()
            .filter(|p| listed.contains_key(p))
            .filter_map(|p| cached.get(p).map(|e| (*p, *e)))
            .collect())
    }
}
