//! Verify: judge every policy and version with the trust rules ([`crate::rules`]), check the
//! presence and integrity of every stored object; with a key, also decrypt every blob (with
//! the keys of its pack's epoch) and walk every version's trees. Collects all findings.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::blob::{self, KIND_CHUNK, KIND_TREE};
use crate::object::pack::{self, TRAILER_LEN};
use crate::object::tree::{self, DIR, FILE};
use crate::repo::index::{BlobLoc, View};
use crate::repo::read::MAX_PATHS;
use crate::repo::{Dataset, Keyring};
use crate::rules::history::Status;
use crate::rules::{History, Refusal, Rule};
use crate::store;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

/// How serious a finding is.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// History is damaged: an accepted object is missing or altered, or the branch head is
    /// not history.
    Error,
    /// An object that is not history (refused by a rule, or junk) sits in the store and is
    /// ignored by every reader; or something suspicious (a clock that went backwards).
    Warning,
    /// Harmless (unreferenced objects an interrupted commit left behind).
    Info,
}

/// One finding.
#[derive(Serialize, Debug, Clone)]
pub struct Finding {
    /// Severity.
    pub level: Level,
    /// Object kind.
    pub kind: &'static str,
    /// Object id, where one applies.
    pub id: Option<String>,
    /// The rule broken, where one is (spec/format.md §9, §10.1a).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    /// What is wrong.
    pub message: String,
}

/// The result of a verification.
#[derive(Serialize, Debug, Default)]
pub struct Report {
    /// Dataset id.
    pub dataset: String,
    /// The store checked: `this dataset`, or the remote's name and URL.
    pub source: String,
    /// Whether blobs and trees were decrypted (a key was available).
    pub decrypted: bool,
    /// Versions checked.
    pub versions: usize,
    /// Packs checked.
    pub packs: usize,
    /// Blobs decrypted and hashed.
    pub blobs: usize,
    /// Stored bytes read.
    pub bytes: u64,
    /// A quick check: packs' trailers and listed sizes only, their contents not hashed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub quick: bool,
    /// The branch head.
    pub head: Option<String>,
    /// The store's checkpoints that count, oldest first (a remote or an audited store).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<crate::rules::checkpoint::Counted>,
    /// The newest of them with its quorum: what freshness is measured on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh: Option<crate::rules::checkpoint::Counted>,
    /// All findings, errors first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing at warning level or worse was found.
    pub fn is_clean(&self) -> bool {
        self.findings.iter().all(|f| f.level == Level::Info)
    }

    pub(crate) fn add(
        &mut self,
        level: Level,
        kind: &'static str,
        id: Option<&Id>,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            level,
            kind,
            id: id.map(|i| i.to_hex()),
            rule: None,
            message: message.into(),
        });
    }

    fn refused(&mut self, kind: &'static str, id: &Id, r: &Refusal) {
        self.findings.push(Finding {
            level: Level::Warning,
            kind,
            id: Some(id.to_hex()),
            rule: Some(r.rule),
            message: format!("not history, ignored by every reader: {}", r.message),
        });
    }

    fn add_err(&mut self, e: &Error) {
        match e {
            Error::Corrupt { kind, id, reason } => {
                self.add(Level::Error, kind, Some(id), reason.clone())
            }
            Error::Missing { kind, id } => {
                self.add(Level::Error, kind, Some(id), "missing from the store")
            }
            other => self.add(Level::Error, "object", None, other.to_string()),
        }
    }
}

/// What checking one pack found.
struct PackResult {
    id: Id,
    bytes: u64,
    epoch: Option<u32>,
    /// The header, when the pack was opened.
    header: Option<std::sync::Arc<crate::object::pack::PackHeader>>,
    /// Its entries that did not open (every member of a bundle that did not).
    bad: HashSet<u32>,
    errors: Vec<Error>,
}

impl PackResult {
    /// The pack's bytes (or what was read of them), or `None` with the error recorded: a
    /// pack that is not there is missing.
    fn take<T>(&mut self, got: Result<Option<T>>) -> Option<T> {
        match got {
            Ok(Some(x)) => Some(x),
            Ok(None) => {
                self.errors.push(Error::Missing {
                    kind: "pack",
                    id: self.id,
                });
                None
            }
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }
}

/// How much of each pack is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Every byte: hashed (streamed, never held whole without a key), trailer parsed, and
    /// with a key every blob opened.
    Full,
    /// The trailer only (one range request per pack); listed sizes; nothing hashed.
    Quick,
}

/// Check one pack without a key: stream it through the hash (memory: one buffer) and parse
/// its trailer; or, `Quick`, read the trailer alone.
fn check_pack_keyless(ds: &Dataset, id: &Id, size: u64, depth: Depth) -> PackResult {
    let mut pr = PackResult {
        id: *id,
        bytes: 0,
        epoch: None,
        header: None,
        bad: HashSet::new(),
        errors: vec![],
    };
    let name = store::pack_path(id);
    let got = match depth {
        Depth::Quick if size >= TRAILER_LEN as u64 => ds
            .store
            .get_range(&name, size - TRAILER_LEN as u64..size)
            .map(|t| Some((*id, size, t.to_vec()))),
        _ => ds.store.hash_streamed(&name, TRAILER_LEN),
    };
    let Some((hash, len, tail)) = pr.take(got) else {
        return pr;
    };
    pr.bytes = tail.len() as u64;
    if depth == Depth::Full {
        pr.bytes = len;
        if hash != *id {
            pr.errors.push(Error::Corrupt {
                kind: "pack",
                id: *id,
                reason: crate::object::signed::MISNAMED.into(),
            });
            return pr;
        }
    }
    match pack::parse_trailer(id, len, &tail) {
        Ok(t) => pr.epoch = Some(t.epoch),
        Err(e) => pr.errors.push(e),
    }
    pr
}

/// Read one whole pack: its hash, trailer, and with a key of its epoch every blob.
fn check_pack(
    ds: &Dataset,
    keys: Option<&Keyring>,
    id: &Id,
    size: u64,
    depth: Depth,
) -> PackResult {
    let Some(keys) = keys.filter(|_| depth == Depth::Full) else {
        return check_pack_keyless(ds, id, size, depth);
    };
    let keys = Some(keys);
    let mut pr = PackResult {
        id: *id,
        bytes: 0,
        epoch: None,
        header: None,
        bad: HashSet::new(),
        errors: vec![],
    };
    let Some(bytes) = pr.take(ds.store.get(&store::pack_path(id))) else {
        return pr;
    };
    pr.bytes = bytes.len() as u64;
    if Id::of_stored(&bytes) != *id {
        pr.errors.push(Error::Corrupt {
            kind: "pack",
            id: *id,
            reason: crate::object::signed::MISNAMED.into(),
        });
        return pr;
    }
    let t = match pack::parse_trailer(id, bytes.len() as u64, &bytes) {
        Ok(t) => t,
        Err(e) => {
            pr.errors.push(e);
            return pr;
        }
    };
    pr.epoch = Some(t.epoch);
    let Some(k) = keys.and_then(|k| k.get(t.epoch)) else {
        return pr;
    };
    let hstart = bytes.len() - TRAILER_LEN - t.header_len as usize;
    let header = match pack::open_header(
        &k,
        id,
        t.epoch,
        &bytes[hstart..bytes.len() - TRAILER_LEN],
        hstart as u64,
    ) {
        Ok(h) => h,
        Err(e) => {
            pr.errors.push(e);
            return pr;
        }
    };
    // Unit by unit: a bundle is opened once for all its members.
    let header = std::sync::Arc::new(header);
    let mut i = 0;
    while i < header.blobs.len() {
        let e = &header.blobs[i];
        let s = e.offset() as usize;
        let sealed = &bytes[s..s + e.length() as usize];
        let unit = pack::unit_of(&header.blobs, i);
        let next = unit.end.max(i + 1);
        if let Err(err) = blob::open_unit(&k, &header.blobs, i, sealed) {
            pr.bad.extend(unit.map(|at| at as u32));
            pr.errors.push(err);
        }
        i = next;
    }
    pr.header = Some(header);
    pr
}

/// Whose store is checked: the dataset's own (nothing enters it unchecked, so an object that
/// does not open was damaged in place: an error), or a remote's (anyone with the bucket's
/// credentials can add junk there: a warning, ignored like any object the rules refuse).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whose {
    /// The dataset's own store.
    Own,
    /// Another store: a remote, or an audited source.
    Remote,
}

/// A view of dataset `id` whose store is `store` (a remote, an audited source) and whose own
/// folder is the scratch folder `dir` (made empty here; the caller removes it).
pub(crate) fn scratch_view(
    dir: &std::path::Path,
    config: crate::repo::Config,
    id: Id,
    store: crate::store::Store,
) -> Result<Dataset> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("refs")).map_err(|source| Error::Io {
        path: dir.into(),
        source,
    })?;
    Ok(Dataset {
        root: dir.into(),
        dot: dir.into(),
        config,
        id,
        store,
    })
}

/// Whether `name` is where a store keeps a coffer object (spec §11): `policy/ID`,
/// `versions/ID`, `claims/ID`, `packs/XX/ID` (XX its first two digits), or a push's probe.
fn is_object_name(name: &str) -> bool {
    match name.split_once('/') {
        Some(("probe", nonce)) => nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()),
        _ => crate::remote::transfer::expected_id(name).is_some_and(|i| store::canonical(name, &i)),
    }
}

/// Verify the dataset. With `identity` (a recipient), blobs are decrypted and trees walked.
/// `progress` shows a bar over the pack bytes read.
pub fn verify(ds: &Dataset, identity: Option<&Identity>, progress: bool) -> Result<Report> {
    verify_store(ds, identity, progress, Whose::Own, Depth::Full)
}

/// Verify what a remote holds, reading every object again from it (even those this dataset
/// holds), with the same rules; plus what this dataset saw there before (a remote that lost
/// it was rolled back) and what this dataset has that the remote lacks (not pushed yet).
pub fn verify_remote(
    ds: &Dataset,
    name: Option<&str>,
    identity: Option<&Identity>,
    progress: bool,
) -> Result<Report> {
    let (_, remote) = crate::remote::Remote::open(ds, name)?;
    let scratch = ds.dot.join(format!("verify-remote.{}", std::process::id()));
    let view = scratch_view(&scratch, ds.config.clone(), ds.id, remote.store.clone())?;
    let report = verify_store(&view, identity, progress, Whose::Remote, Depth::Full);
    let _ = std::fs::remove_dir_all(&scratch);
    let mut r = report.map_err(|e| remote.explain(e))?;
    r.source = format!("remote {} ({})", remote.name, remote.config.url);
    // An object this dataset holds as history, damaged on the remote, is damage, not junk.
    let local = ds.history()?;
    for f in &mut r.findings {
        let held =
            f.id.as_deref()
                .and_then(Id::from_hex)
                .is_some_and(|i| local.is_history(&i) || local.chain.get(&i).is_some());
        if held && f.level == Level::Warning {
            f.level = Level::Error;
            f.message = format!(
                "{} (this dataset holds it as history: altered on the remote)",
                f.message
            );
        }
    }
    let l = crate::remote::listing::list(&remote)?;
    for h in &remote.config.seen.heads {
        if !l.versions.contains(h) {
            r.add(
                Level::Error,
                "version",
                Some(h),
                "was on the remote when this dataset last saw it, and is gone (rolled back or deleted)",
            );
        }
    }
    if let Some((_, p)) = &remote.config.seen.policy {
        if !l.policies.contains(p) {
            r.add(
                Level::Error,
                "policy",
                Some(p),
                "was on the remote when this dataset last saw it, and is gone (rolled back or deleted)",
            );
        }
    }
    for (id, _) in &local.chain.policies {
        if !l.policies.contains(id) {
            r.add(
                Level::Info,
                "policy",
                Some(id),
                "held here, not on the remote (not pushed yet)",
            );
        }
    }
    for (id, s) in &local.status {
        if s.is_history() && !l.versions.contains(id) {
            r.add(
                Level::Info,
                "version",
                Some(id),
                "held here, not on the remote (not pushed yet)",
            );
        }
    }
    r.findings.sort_by_key(|f| f.level);
    Ok(r)
}

pub(crate) fn verify_store(
    ds: &Dataset,
    identity: Option<&Identity>,
    progress: bool,
    whose: Whose,
    depth: Depth,
) -> Result<Report> {
    let junk_level = match whose {
        Whose::Own => Level::Error,
        Whose::Remote => Level::Warning,
    };
    let mut r = Report {
        dataset: ds.id.to_hex(),
        source: "this dataset".into(),
        ..Default::default()
    };
    let chain = match crate::rules::chain::load(&ds.store, &ds.id) {
        Ok(c) => {
            if let Err(e) = ds.check_not_rolled_back(&c) {
                r.add_err(&e);
            }
            c
        }
        Err(Error::Missing { .. }) => {
            r.add(
                Level::Error,
                "policy",
                Some(&ds.id),
                "genesis policy is missing from the store",
            );
            return Ok(r);
        }
        Err(e) => {
            r.add_err(&e);
            return Ok(r);
        }
    };
    for (id, why) in &chain.refused {
        if why.rule == Rule::PolicyForkRepaired {
            // Settled by a repair policy: history, not damage.
            r.findings.push(Finding {
                level: Level::Info,
                kind: "policy",
                id: Some(id.to_hex()),
                rule: Some(why.rule),
                message: why.message.clone(),
            });
        } else if matches!(
            why.rule,
            Rule::ObjectName | Rule::ObjectMalformed | Rule::Signature
        ) {
            r.findings.push(Finding {
                level: junk_level,
                kind: "policy",
                id: Some(id.to_hex()),
                rule: Some(why.rule),
                message: why.message.clone(),
            });
        } else {
            r.refused("policy", id, why);
        }
    }
    let keys: Option<Keyring> = identity.and_then(|i| ds.keyring(&chain, i).ok());
    r.decrypted = keys.is_some();

    // Packs: present, named by their hash, well-formed; with keys, every blob opens.
    let mut listed: HashMap<Id, u64> = ds.store.list_ids("packs")?.into_iter().collect();
    // A partial clone holds few packs: the rest are checked where they are, on origin.
    if let Some(origin) = ds.store.fallback() {
        for (id, size) in origin.list_ids("packs")? {
            listed.entry(id).or_insert(size);
        }
    }
    let pb = crate::repo::progress_bar(
        progress,
        match depth {
            Depth::Full => listed.values().sum(),
            Depth::Quick => (listed.len() * TRAILER_LEN) as u64,
        },
    );
    r.quick = depth == Depth::Quick;
    let checks: Vec<PackResult> = listed
        .par_iter()
        .map(|(id, size)| {
            let pr = check_pack(ds, keys.as_ref(), id, *size, depth);
            pb.inc(pr.bytes);
            pr
        })
        .collect();
    pb.finish_and_clear();
    // Each opened pack's epoch, header and entries that did not open.
    let mut good: HashMap<Id, CheckedPack> = HashMap::new();
    let mut damaged: HashSet<Id> = HashSet::new();
    let mut epochs: HashMap<Id, u32> = HashMap::new();
    let mut pack_errors: Vec<(Id, usize)> = Vec::new();
    for pr in checks {
        r.packs += 1;
        r.bytes += pr.bytes;
        r.blobs += pr
            .header
            .as_ref()
            .map_or(0, |h| h.blobs.len() - pr.bad.len());
        for e in &pr.errors {
            r.add_err(e);
        }
        pack_errors.push((pr.id, pr.errors.len()));
        if !pr.errors.is_empty() {
            damaged.insert(pr.id);
        }
        if let Some(e) = pr.epoch {
            epochs.insert(pr.id, e);
        }
        if let (Some(e), Some(h)) = (pr.epoch, pr.header) {
            good.insert(pr.id, (e, h, pr.bad));
        }
    }

    // Claims (on a remote): each must decode and hold objects that open; a claim is never
    // trusted for history, but a bad one is worth knowing about.
    for (id, _) in ds.store.list_ids("claims")? {
        let Some(b) = ds.store.get(&store::claim_path(&id))? else {
            continue;
        };
        let why = match crate::remote::claim::Claim::decode(&b) {
            Err(e) => Some(e.to_string()),
            Ok(c) => c
                .versions
                .iter()
                .find_map(|v| {
                    crate::object::version::Version::open(&Id::of_stored(v), v)
                        .err()
                        .map(|e| format!("holds a version that does not open: {e}"))
                })
                .or_else(|| {
                    c.policies.iter().find_map(|p| {
                        crate::object::policy::Policy::open(&Id::of_stored(p), p)
                            .err()
                            .map(|e| format!("holds a policy that does not open: {e}"))
                    })
                }),
        };
        if let Some(why) = why {
            r.findings.push(Finding {
                level: junk_level,
                kind: "claim",
                id: Some(id.to_hex()),
                rule: Some(Rule::ObjectMalformed),
                message: format!("{why}; ignored by pushers"),
            });
        }
    }

    // Versions: the rules, with the epochs just read from the packs themselves.
    let opened = store::reader::all_versions(&ds.store)?;
    let hist = History::evaluate(chain, opened.versions, opened.junk, |p| {
        epochs.get(p).copied()
    });
    r.versions = hist.versions.len() + hist.junk.len();
    for (id, why) in &hist.junk {
        r.findings.push(Finding {
            level: junk_level,
            kind: "version",
            id: Some(id.to_hex()),
            rule: Some(why.rule),
            message: why.message.clone(),
        });
    }
    for (id, s) in &hist.status {
        match s {
            Status::Refused(why) => r.refused("version", id, why),
            Status::Incomplete(missing) => {
                for p in missing {
                    if !damaged.contains(p) {
                        r.add(
                            Level::Error,
                            "pack",
                            Some(p),
                            format!("missing from the store (needed by version {})", id.short()),
                        );
                    }
                }
            }
            Status::Accepted => {}
        }
    }
    for (id, note) in &hist.notes {
        r.add(Level::Warning, "version", Some(id), note.clone());
    }
    for (id, p) in &hist.chain.policies {
        for h in p.heads.iter().flatten() {
            if !hist.versions.contains_key(h) {
                r.add(
                    Level::Warning,
                    "policy",
                    Some(id),
                    format!(
                        "acknowledges version {}, which is not in the store",
                        h.short()
                    ),
                );
            }
        }
    }
    // On a remote, its checkpoints: freshness, witnesses, split views (spec §10.5).
    if whose == Whose::Remote {
        let (c, s) = crate::remote::checkpoint::listed(&ds.store)?;
        let read = crate::remote::checkpoint::read(&ds.store, &c, &s, None)?;
        let j = crate::remote::checkpoint::judge_store(
            &ds.store,
            &ds.id,
            &hist.chain,
            &hist.versions,
            &read,
        );
        for n in &j.notes {
            r.findings.push(Finding {
                level: n.level,
                kind: n.kind,
                id: n.id.map(|i| i.to_hex()),
                rule: Some(n.rule),
                message: n.message.clone(),
            });
        }
        r.checkpoints = j.counted;
        r.fresh = j.newest;
    }
    let head = ds.head()?;
    r.head = head.map(|h| h.to_hex());
    let mut reachable = HashSet::new();
    if let (Some(h), Whose::Own) = (head, whose) {
        match hist.status_of(&h) {
            None if hist.junk.iter().any(|(i, _)| *i == h) => r.add(
                Level::Error,
                "version",
                Some(&h),
                "the branch head is damaged (see above)",
            ),
            None => r.add(
                Level::Error,
                "version",
                Some(&h),
                "the branch head is missing from the store",
            ),
            Some(Status::Refused(why)) => r.add(
                Level::Error,
                "version",
                Some(&h),
                format!(
                    "the branch head is not history ({}): run `coffer pull`",
                    why.rule
                ),
            ),
            Some(_) => {}
        }
        reachable = crate::rules::history::ancestors(&hist.versions, &[h]);
    }
    for (id, s) in &hist.status {
        if whose == Whose::Own && s.is_history() && !reachable.contains(id) {
            r.add(
                Level::Info,
                "version",
                Some(id),
                "not reachable from the branch head (left by an interrupted commit, or fetched and not merged)",
            );
        }
    }
    let needed: BTreeSet<Id> = hist
        .status
        .iter()
        .filter(|(_, s)| s.is_history())
        .filter_map(|(id, _)| hist.versions.get(id))
        .flat_map(|v| v.packs.iter().copied())
        .collect();
    for p in listed.keys() {
        if !needed.contains(p) {
            r.add(
                Level::Info,
                "pack",
                Some(p),
                "not used by any version (removable by gc)",
            );
        }
    }
    // On a remote, a name that is no coffer object's is junk anyone could have added there:
    // listed, ignored by every reader.
    if whose == Whose::Remote {
        for (name, size) in ds.store.list("")? {
            if !is_object_name(&name) {
                r.add(
                    Level::Warning,
                    "object",
                    None,
                    format!("{name} ({size} B): not a coffer object's name; junk, ignored by every reader"),
                );
            }
        }
    }
    // On a remote, a damaged object no history version lists is junk anyone could have
    // added there: a warning, like junk versions and policies.
    if whose == Whose::Remote {
        for f in &mut r.findings {
            let unneeded = f.kind == "pack"
                && f.level == Level::Error
                && f.id.as_deref().and_then(Id::from_hex).is_some_and(|i| {
                    !needed.contains(&i) && pack_errors.iter().any(|(p, n)| *p == i && *n > 0)
                });
            if unneeded {
                f.level = Level::Warning;
                f.message = format!("{} (no version lists it: junk, ignored)", f.message);
            }
        }
    }

    // With keys: every version's trees and chunks are in the packs it lists, and sizes add up.
    if let Some(keys) = &keys {
        walk_versions(ds, &hist, keys, &good, &damaged, &listed, &mut r);
    }
    r.findings.sort_by_key(|f| f.level);
    Ok(r)
}

fn walk_versions(
    ds: &Dataset,
    hist: &History,
    keys: &Keyring,
    good: &HashMap<Id, CheckedPack>,
    damaged: &HashSet<Id>,
    listed: &HashMap<Id, u64>,
    r: &mut Report,
) {
    for (vid, v) in &hist.versions {
        if !hist.is_history(vid) {
            continue;
        }
        let Some(k) = keys.get(v.epoch) else {
            r.add(
                Level::Info,
                "version",
                Some(vid),
                format!("epoch {} key not held; contents not checked", v.epoch),
            );
            continue;
        };
        let seal = match v.unseal(vid, &k) {
            Ok(s) => s,
            Err(e) => {
                r.add_err(&e);
                continue;
            }
        };
        let lost: Vec<String> = v
            .packs
            .iter()
            .filter(|p| damaged.contains(p) || !listed.contains_key(p))
            .map(|p| p.short())
            .collect();
        let unreadable: Vec<u32> = v
            .packs
            .iter()
            .filter_map(|p| hist.pack_epochs.get(p))
            .filter(|e| !keys.epochs.contains_key(e))
            .copied()
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect();
        if !unreadable.is_empty() {
            r.add(
                Level::Info,
                "version",
                Some(vid),
                format!("keys of epoch(s) {unreadable:?} not held; contents not checked"),
            );
            continue;
        }
        let where_ = if lost.is_empty() {
            "is not in the packs the version lists".to_string()
        } else {
            format!(
                "is unreadable: pack(s) {} of this version are damaged or missing",
                lost.join(", ")
            )
        };
        // The blobs of the packs the version lists, 8 bytes each besides the headers.
        let locs = View::of_checked(v.packs.iter().filter_map(|p| {
            good.get(p)
                .map(|(epoch, header, bad)| (*p, *epoch, header.clone(), bad))
        }));
        let mut w = Walker {
            ds,
            keys,
            locs: &locs,
            where_: &where_,
            memo: HashMap::new(),
            problems: Vec::new(),
        };
        let shape = w.walk(seal.root, 0);
        if w.problems.is_empty() {
            // What checkout would refuse, verify reports: a version too large to expand, and
            // links that leave the checkout folder (spec §8, §14).
            if shape.paths > MAX_PATHS {
                w.problems.push(format!(
                    "holds {} paths, more than the {MAX_PATHS} a reader expands: every reader refuses it (a tree that repeats its folders?)",
                    shape.paths
                ));
            } else if shape.links {
                let mut links = Vec::new();
                w.links(seal.root, "", &mut links);
                let paths: HashSet<&str> = links.iter().map(|(p, _)| p.as_str()).collect();
                for (p, t) in &links {
                    if !crate::repo::checkout::link_is_safe(p, t, &paths) {
                        w.problems.push(format!(
                            "link {p} -> {:?} leaves the checkout folder: checkout refuses this version",
                            String::from_utf8_lossy(t)
                        ));
                    }
                }
            }
        }
        let mut problems = w.problems;
        if problems.is_empty() && (shape.files != seal.files || shape.bytes != seal.bytes) {
            problems.push(format!(
                "holds {} files / {} bytes, its seal says {} / {}",
                shape.files, shape.bytes, seal.files, seal.bytes
            ));
        }
        for p in problems {
            r.add(Level::Error, "version", Some(vid), p);
        }
    }
}

/// Decoded trees by (tree id, pack of the copy read).
/// A pack verify opened: its epoch, its header, and the entries that did not open.
type CheckedPack = (
    u32,
    std::sync::Arc<crate::object::pack::PackHeader>,
    HashSet<u32>,
);

/// What is below one tree, each distinct subtree counted once however often it is named.
#[derive(Clone, Copy, Default)]
struct Shape {
    files: u64,
    bytes: u64,
    paths: u64,
    /// Whether a link is somewhere below.
    links: bool,
}

/// Walks one version's trees: counts files, bytes and paths, checks every blob is in a listed
/// pack.
struct Walker<'a> {
    ds: &'a Dataset,
    keys: &'a Keyring,
    locs: &'a View,
    where_: &'a str,
    /// Subtrees already walked in this version.
    memo: HashMap<Id, Shape>,
    problems: Vec<String>,
}

/// More problems than this in one version are not worth listing one by one.
const MAX_PROBLEMS: usize = 20;

impl Walker<'_> {
    /// The decoded tree `tid` from the copy the version lists. Not kept across versions:
    /// memory stays the open folders whatever the size of the history (a subtree is walked
    /// once per version, see `memo`).
    fn entries(&mut self, tid: &Id) -> Option<Vec<tree::Entry>> {
        let Some(loc) = self.locs.get(tid).filter(|l| l.entry.kind() == KIND_TREE) else {
            self.problems
                .push(format!("tree {} {}", tid.short(), self.where_));
            return None;
        };
        match read_tree(self.ds, self.keys, tid, &loc) {
            Ok(e) => Some(e),
            Err(e) => {
                self.problems.push(e.to_string());
                None
            }
        }
    }

    fn walk(&mut self, tid: Id, depth: usize) -> Shape {
        if let Some(s) = self.memo.get(&tid) {
            return *s;
        }
        if depth > crate::repo::read::MAX_DEPTH || self.problems.len() > MAX_PROBLEMS {
            if depth > crate::repo::read::MAX_DEPTH {
                self.problems.push(format!(
                    "folders nested deeper than {}",
                    crate::repo::read::MAX_DEPTH
                ));
            }
            return Shape::default();
        }
        let Some(entries) = self.entries(&tid) else {
            return Shape::default();
        };
        let mut shape = Shape::default();
        for e in &entries {
            shape.paths = shape.paths.saturating_add(1);
            match e.kind() {
                DIR => {
                    let s = self.walk(e.ids()[0], depth + 1);
                    shape.files = shape.files.saturating_add(s.files);
                    shape.bytes = shape.bytes.saturating_add(s.bytes);
                    shape.paths = shape.paths.saturating_add(s.paths);
                    shape.links |= s.links;
                }
                FILE => {
                    shape.files += 1;
                    shape.bytes = shape.bytes.saturating_add(e.size());
                    let mut sum = 0u64;
                    let mut all_found = true;
                    for c in e.ids() {
                        match self.locs.get(c).filter(|l| l.entry.kind() == KIND_CHUNK) {
                            Some(l) => sum += l.entry.raw_len() as u64,
                            None => {
                                all_found = false;
                                self.problems.push(format!(
                                    "chunk {} of {:?} {}",
                                    c.short(),
                                    e.name(),
                                    self.where_
                                ));
                            }
                        }
                    }
                    if all_found && sum != e.size() {
                        self.problems.push(format!(
                            "{:?}: chunks add up to {sum} bytes, the entry says {}",
                            e.name(),
                            e.size()
                        ));
                    }
                }
                _ => shape.links = true,
            }
        }
        self.memo.insert(tid, shape);
        shape
    }

    /// Every link below `tid` with its path, descending only into folders that hold one
    /// (after [`Walker::walk`], which bounds the paths).
    fn links(&mut self, tid: Id, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let Some(entries) = self.entries(&tid) else {
            return;
        };
        for e in entries {
            let path = if prefix.is_empty() {
                e.name().to_string()
            } else {
                format!("{prefix}/{}", e.name())
            };
            match e.kind() {
                DIR if self.memo.get(&e.ids()[0]).is_some_and(|s| s.links) => {
                    self.links(e.ids()[0], &path, out)
                }
                tree::SYMLINK => out.push((path, e.target().to_vec())),
                _ => {}
            }
        }
    }
}

/// Read and decode one tree, with the keys of its pack's epoch.
fn read_tree(ds: &Dataset, keys: &Keyring, id: &Id, loc: &BlobLoc) -> Result<Vec<tree::Entry>> {
    let e = &loc.entry;
    let k = keys.get(loc.epoch).ok_or_else(|| Error::NoEpochKey {
        who: keys.who.clone(),
        epoch: loc.epoch,
        dataset: ds.id,
    })?;
    let sealed = ds.store.get_range(
        &store::pack_path(&loc.pack),
        e.offset()..e.offset() + e.length() as u64,
    )?;
    let plain = loc.open(&k, KIND_TREE, &sealed)?;
    tree::decode(id, &plain)
}
