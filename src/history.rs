//! History: resolving version references (`HEAD~2`, id prefixes) and walking parents.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::version::Version;
use crate::repo::Dataset;
use std::collections::{BTreeSet, HashSet};

/// Resolve a version reference: a full id, a unique prefix (4+ hex digits), `HEAD`,
/// `HEAD~N` or `HEAD^`.
pub fn resolve(ds: &Dataset, rev: &str) -> Result<Id> {
    let unknown = || Error::UnknownRevision(rev.to_string());
    let rev_t = rev.trim();
    let (base, back) = match rev_t.split_once('~') {
        Some((b, n)) => (
            b,
            if n.is_empty() {
                1
            } else {
                n.parse::<u64>().map_err(|_| unknown())?
            },
        ),
        None => match rev_t.strip_suffix('^') {
            Some(b) => (b, 1),
            None => (rev_t, 0),
        },
    };
    let mut id = if base.eq_ignore_ascii_case("HEAD") {
        ds.head()?.ok_or(Error::NoVersions)?
    } else if let Some(id) = Id::from_hex(base) {
        id
    } else {
        if base.len() < 4 || !base.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        let lower = base.to_ascii_lowercase();
        let hits: Vec<Id> = ds
            .version_ids()?
            .into_iter()
            .filter(|i| i.to_hex().starts_with(&lower))
            .collect();
        match hits.len() {
            0 => return Err(unknown()),
            1 => hits[0],
            _ => return Err(Error::AmbiguousRevision(base.to_string())),
        }
    };
    for _ in 0..back {
        let v = ds.version(&id)?;
        id = *v.parents.first().ok_or_else(unknown)?;
    }
    // Make sure it exists and is valid.
    ds.version(&id)?;
    Ok(id)
}

/// All versions reachable from `from`, newest (highest seq) first.
pub fn log(ds: &Dataset, from: &Id) -> Result<Vec<(Id, Version)>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    // Max-heap by (seq, id).
    let mut queue: BTreeSet<(u64, Id)> = BTreeSet::new();
    let first = ds.version(from)?;
    queue.insert((first.seq, *from));
    seen.insert(*from);
    let mut cache = std::collections::HashMap::new();
    cache.insert(*from, first);
    while let Some((seq, id)) = queue.pop_last() {
        let v = match cache.remove(&id) {
            Some(v) => v,
            None => ds.version(&id)?,
        };
        debug_assert_eq!(v.seq, seq);
        for p in &v.parents {
            if seen.insert(*p) {
                let pv = ds.version(p)?;
                queue.insert((pv.seq, *p));
                cache.insert(*p, pv);
            }
        }
        out.push((id, v));
    }
    Ok(out)
}

/// UTC time as RFC 3339.
pub fn format_time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}
