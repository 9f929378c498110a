//! History: resolving version references (`HEAD~2`, id prefixes) and walking parents, over
//! the versions the rules accept ([`crate::rules::History`]).

use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::version::Version;
use crate::repo::Dataset;
use crate::rules::History;
use std::collections::{BTreeSet, HashSet};

/// Resolve a version reference: a full id, a unique prefix (4+ hex digits), `HEAD`,
/// `HEAD~N` or `HEAD^`. A version the rules refuse is an error naming the rule.
pub fn resolve(ds: &Dataset, hist: &History, rev: &str) -> Result<Id> {
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
        if !base.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        if base.len() < 4 {
            return Err(Error::Usage(format!(
                "version prefix `{base}` is too short: give at least 4 hex digits (see `coffer log`)"
            )));
        }
        let lower = base.to_ascii_lowercase();
        let hits: Vec<Id> = hist
            .versions
            .keys()
            .chain(hist.junk.iter().map(|(i, _)| i))
            .filter(|i| i.to_hex().starts_with(&lower))
            .copied()
            .collect();
        match hits.len() {
            0 => return Err(unknown()),
            1 => hits[0],
            _ => return Err(Error::AmbiguousRevision(base.to_string())),
        }
    };
    for _ in 0..back {
        let v = hist.get(&id)?;
        id = *v.parents.first().ok_or_else(unknown)?;
    }
    match hist.get(&id) {
        Ok(_) => Ok(id),
        Err(Error::Missing { .. }) => Err(unknown()),
        Err(e) => Err(e),
    }
}

/// All versions reachable from `from`, newest (highest seq) first. Every one must be
/// history (a refused ancestor is an error naming it).
pub fn log(hist: &History, from: &Id) -> Result<Vec<(Id, Version)>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    // Max-heap by (seq, id).
    let mut queue: BTreeSet<(u64, Id)> = BTreeSet::new();
    queue.insert((hist.get(from)?.seq, *from));
    seen.insert(*from);
    while let Some((_, id)) = queue.pop_last() {
        let v = hist.get(&id)?;
        for p in &v.parents {
            if seen.insert(*p) {
                queue.insert((hist.get(p)?.seq, *p));
            }
        }
        out.push((id, v.clone()));
    }
    Ok(out)
}

/// Ids of `from` and all its ancestors.
pub fn ancestors(hist: &History, from: &Id) -> Result<HashSet<Id>> {
    Ok(log(hist, from)?.into_iter().map(|(i, _)| i).collect())
}

/// UTC time as RFC 3339.
pub fn format_time(secs: u64) -> String {
    use std::fmt::Write;
    // Times come from signed objects anyone with a key can date: beyond year 9999 (or past
    // what the clock can hold) they are shown as raw seconds rather than trusted to a
    // formatter that cannot show them.
    const YEAR_10000: u64 = 253_402_300_800;
    let mut out = String::new();
    match std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs)) {
        Some(t) if secs < YEAR_10000 => {
            if write!(out, "{}", humantime::format_rfc3339_seconds(t)).is_ok() {
                return out;
            }
            format!("{secs} s after 1970")
        }
        _ => format!("{secs} s after 1970"),
    }
}

/// A span of time for people, in its largest whole unit: `3 days`, `5 hours`, `40 s`.
pub fn format_age(secs: u64) -> String {
    let unit = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match secs {
        s if s >= 86_400 => unit(s / 86_400, "day"),
        s if s >= 3_600 => unit(s / 3_600, "hour"),
        s if s >= 60 => unit(s / 60, "minute"),
        s => format!("{s} s"),
    }
}
