//! Verify: check signatures, the version chain, and presence and integrity of every stored
//! object; with a key, also decrypt every blob and walk every tree. Collects all findings.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::blob::{self, KIND_CHUNK, KIND_TREE};
use crate::object::pack::{self, TRAILER_LEN};
use crate::object::tree::{self, DIR, FILE};
use crate::object::version::Version;
use crate::repo::index::BlobLoc;
use crate::repo::{Dataset, Keyring};
use crate::store;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// How serious a finding is.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Data is missing, altered or unauthorised.
    Error,
    /// Suspicious but not proof of damage (clock went backwards).
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
    /// What is wrong.
    pub message: String,
}

/// The result of a verification.
#[derive(Serialize, Debug, Default)]
pub struct Report {
    /// Dataset id.
    pub dataset: String,
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
    /// The branch head.
    pub head: Option<String>,
    /// All findings, errors first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing at warning level or worse was found.
    pub fn is_clean(&self) -> bool {
        self.findings.iter().all(|f| f.level == Level::Info)
    }

    fn add(
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
            message: message.into(),
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

/// Verify the dataset. With `identity` (a recipient), blobs are decrypted and trees walked.
/// `progress` shows a bar over the pack bytes read.
pub fn verify(ds: &Dataset, identity: Option<&Identity>, progress: bool) -> Result<Report> {
    let mut r = Report {
        dataset: ds.id.to_hex(),
        ..Default::default()
    };
    let chain = match crate::sharing::chain::load(&ds.store, &ds.id) {
        Ok(c) => {
            for (id, why) in &c.refused {
                r.add(Level::Error, "policy", Some(id), why.clone());
            }
            if let Err(e) = ds.check_not_rolled_back(&c) {
                r.add_err(&e);
            }
            Some(c)
        }
        Err(Error::Missing { .. }) => {
            r.add(
                Level::Error,
                "policy",
                Some(&ds.id),
                "genesis policy is missing from the store",
            );
            None
        }
        Err(e) => {
            r.add_err(&e);
            None
        }
    };
    let keys: Option<Keyring> = match (identity, &chain) {
        (Some(id), Some(c)) => ds.keyring(c, id).ok(),
        _ => None,
    };
    r.decrypted = keys.is_some();

    // Versions: signature, dataset, author's role, parents, sequence numbers.
    let mut versions: BTreeMap<Id, Version> = BTreeMap::new();
    for id in ds.version_ids()? {
        match ds.version(&id) {
            Ok(v) => {
                versions.insert(id, v);
            }
            Err(e) => r.add_err(&e),
        }
    }
    r.versions = versions.len();
    // Each version names the policy it was made under: an accepted one, not older than its
    // parents' (a writer removed later cannot sign "in the past" after the removal).
    for (id, v) in &versions {
        let Some(chain) = &chain else {
            // Already reported; without a policy no author can be checked.
            continue;
        };
        if let Some((pos, p)) = chain.get(&v.policy) {
            for parent in v.parents.iter().filter_map(|x| versions.get(x)) {
                if chain.get(&parent.policy).is_some_and(|(pp, _)| pp > pos) {
                    r.add(
                        Level::Error,
                        "version",
                        Some(id),
                        "made under an older policy than its parent's (a withdrawn writer signing after the fact?)",
                    );
                }
            }
            match p.member_by_sign_key(&v.author.0) {
                Some(m) if m.can_write() => {}
                Some(m) => r.add(
                    Level::Error,
                    "version",
                    Some(id),
                    format!(
                        "signed by {}, who is a {}, not a writer",
                        m.label(),
                        m.role()
                    ),
                ),
                None => r.add(
                    Level::Error,
                    "version",
                    Some(id),
                    "signed by a key that is not a member of the dataset",
                ),
            }
            if v.epoch != p.epoch {
                r.add(
                    Level::Error,
                    "version",
                    Some(id),
                    format!(
                        "sealed under epoch {}, but its policy's epoch is {}",
                        v.epoch, p.epoch
                    ),
                );
            }
        } else {
            r.add(
                Level::Error,
                "version",
                Some(id),
                format!(
                    "made under policy {}, which is not in the dataset's policy chain",
                    v.policy.short()
                ),
            );
        }
        let mut max_seq = 0;
        for p in &v.parents {
            match versions.get(p) {
                Some(pv) => {
                    max_seq = max_seq.max(pv.seq);
                    if pv.time > v.time {
                        r.add(
                            Level::Warning,
                            "version",
                            Some(id),
                            format!("dated before its parent {}", p.short()),
                        );
                    }
                }
                None => r.add(
                    Level::Error,
                    "version",
                    Some(id),
                    format!("parent {} is missing", p.short()),
                ),
            }
        }
        if v.seq != max_seq + 1 && v.parents.iter().all(|p| versions.contains_key(p)) {
            r.add(
                Level::Error,
                "version",
                Some(id),
                format!("sequence number {} should be {}", v.seq, max_seq + 1),
            );
        }
    }
    let head = ds.head()?;
    r.head = head.map(|h| h.to_hex());
    let mut reachable = HashSet::new();
    if let Some(h) = head {
        if !versions.contains_key(&h) {
            r.add(
                Level::Error,
                "version",
                Some(&h),
                "the branch head is missing or invalid",
            );
        }
        let mut stack = vec![h];
        while let Some(x) = stack.pop() {
            if reachable.insert(x) {
                if let Some(v) = versions.get(&x) {
                    stack.extend(v.parents.iter().copied());
                }
            }
        }
    }
    for id in versions.keys() {
        if !reachable.contains(id) {
            r.add(
                Level::Info,
                "version",
                Some(id),
                "not reachable from the branch head (left by an interrupted commit?)",
            );
        }
    }

    // Packs: present, named by their hash, well-formed; with keys, every blob opens.
    let mut listed: HashMap<Id, u64> = ds.store.list_ids("packs")?.into_iter().collect();
    // A partial clone holds few packs: the rest are checked where they are, on origin.
    if let Some(origin) = ds.store.fallback() {
        for (id, size) in origin.list_ids("packs")? {
            listed.entry(id).or_insert(size);
        }
    }
    let mut needed: BTreeSet<Id> = BTreeSet::new();
    for (id, v) in &versions {
        for p in &v.packs {
            needed.insert(*p);
            if !listed.contains_key(p) {
                r.add(
                    Level::Error,
                    "pack",
                    Some(p),
                    format!("missing from the store (needed by version {})", id.short()),
                );
            }
        }
    }
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
    struct PackResult {
        id: Id,
        bytes: u64,
        blobs: Vec<(Id, BlobLoc)>,
        errors: Vec<Error>,
    }
    let pb = crate::repo::progress_bar(progress, listed.values().sum());
    let checks: Vec<PackResult> = listed
        .par_iter()
        .map(|(id, _)| {
            let mut pr = PackResult {
                id: *id,
                bytes: 0,
                blobs: vec![],
                errors: vec![],
            };
            let bytes = match ds.store.get(&store::pack_path(id)) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    pr.errors.push(Error::Missing {
                        kind: "pack",
                        id: *id,
                    });
                    return pr;
                }
                Err(e) => {
                    pr.errors.push(e);
                    return pr;
                }
            };
            pr.bytes = bytes.len() as u64;
            pb.inc(pr.bytes);
            if Id::of_stored(&bytes) != *id {
                pr.errors.push(Error::Corrupt {
                    kind: "pack",
                    id: *id,
                    reason: "content does not hash to its name".into(),
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
            let Some(k) = keys.as_ref().and_then(|k| k.get(t.epoch)) else {
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
            for e in header.blobs {
                let s = e.offset() as usize;
                let sealed = &bytes[s..s + e.length() as usize];
                match blob::open(&k, e.kind(), e.comp(), e.raw_len(), &e.id(), sealed) {
                    Ok(_) => pr.blobs.push((
                        e.id(),
                        BlobLoc {
                            pack: *id,
                            epoch: t.epoch,
                            entry: e,
                        },
                    )),
                    Err(err) => pr.errors.push(err),
                }
            }
            pr
        })
        .collect();
    pb.finish_and_clear();
    let mut good: HashMap<Id, HashMap<Id, BlobLoc>> = HashMap::new();
    let mut damaged: HashSet<Id> = HashSet::new();
    for pr in checks {
        r.packs += 1;
        r.bytes += pr.bytes;
        r.blobs += pr.blobs.len();
        for e in &pr.errors {
            r.add_err(e);
        }
        if !pr.errors.is_empty() {
            damaged.insert(pr.id);
        }
        good.insert(pr.id, pr.blobs.into_iter().collect());
    }

    // With keys: every version's trees and chunks are in the packs it lists, and sizes add up.
    if let Some(keys) = &keys {
        // Trees are shared between versions: each is read and decrypted once.
        let mut trees: HashMap<Id, std::result::Result<Vec<tree::Entry>, String>> = HashMap::new();
        for (vid, v) in &versions {
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
            let where_ = if lost.is_empty() {
                "is not in the packs the version lists".to_string()
            } else {
                format!(
                    "is unreadable: pack(s) {} of this version are damaged or missing",
                    lost.join(", ")
                )
            };
            let locs: HashMap<Id, &BlobLoc> = v
                .packs
                .iter()
                .filter_map(|p| good.get(p))
                .flat_map(|m| m.iter().map(|(k, v)| (*k, v)))
                .collect();
            let mut w = Walker {
                ds,
                k: &k,
                locs: &locs,
                where_: &where_,
                trees: &mut trees,
                memo: HashMap::new(),
                problems: Vec::new(),
            };
            let (files, total) = w.walk(seal.root, 0);
            let mut problems = w.problems;
            if files != seal.files || total != seal.bytes {
                problems.push(format!(
                    "holds {files} files / {total} bytes, its seal says {} / {}",
                    seal.files, seal.bytes
                ));
            }
            for p in problems {
                r.add(Level::Error, "version", Some(vid), p);
            }
        }
    }
    r.findings.sort_by_key(|f| f.level);
    Ok(r)
}

/// Walks one version's trees: counts files and bytes, checks every blob is in a listed pack.
struct Walker<'a> {
    ds: &'a Dataset,
    k: &'a crate::crypto::keys::EpochKeys,
    locs: &'a HashMap<Id, &'a BlobLoc>,
    where_: &'a str,
    trees: &'a mut HashMap<Id, std::result::Result<Vec<tree::Entry>, String>>,
    /// Files and bytes below each subtree already walked in this version.
    memo: HashMap<Id, (u64, u64)>,
    problems: Vec<String>,
}

/// More problems than this in one version are not worth listing one by one.
const MAX_PROBLEMS: usize = 20;

impl Walker<'_> {
    fn walk(&mut self, tid: Id, depth: usize) -> (u64, u64) {
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
            return (0, 0);
        }
        let Some(loc) = self.locs.get(&tid).filter(|l| l.entry.kind() == KIND_TREE) else {
            self.problems
                .push(format!("tree {} {}", tid.short(), self.where_));
            return (0, 0);
        };
        let (ds, k) = (self.ds, self.k);
        let entries = match self
            .trees
            .entry(tid)
            .or_insert_with(|| read_tree(ds, k, &tid, loc).map_err(|e| e.to_string()))
        {
            Ok(e) => e.clone(),
            Err(e) => {
                self.problems.push(e.clone());
                return (0, 0);
            }
        };
        let (mut files, mut total) = (0u64, 0u64);
        for e in &entries {
            match e.kind() {
                DIR => {
                    let (f, t) = self.walk(e.ids()[0], depth + 1);
                    files += f;
                    total += t;
                }
                FILE => {
                    files += 1;
                    total += e.size();
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
                _ => {}
            }
        }
        self.memo.insert(tid, (files, total));
        (files, total)
    }
}

fn read_tree(
    ds: &Dataset,
    k: &crate::crypto::keys::EpochKeys,
    id: &Id,
    loc: &BlobLoc,
) -> Result<Vec<tree::Entry>> {
    let e = &loc.entry;
    let sealed = ds.store.get_range(
        &store::pack_path(&loc.pack),
        e.offset()..e.offset() + e.length() as u64,
    )?;
    let plain = blob::open(k, KIND_TREE, e.comp(), e.raw_len(), id, &sealed)?;
    tree::decode(id, &plain)
}
