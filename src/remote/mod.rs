//! Remotes: other stores holding a copy of a dataset (S3-compatible buckets, folders), the
//! dataset's record of them in `.coffer/remotes.json`, and the errors that name them.
//!
//! Modules: [`listing`] (one LIST and the checks on it), [`transfer`] (parallel checked
//! copies), [`claim`], [`push`], [`fetch`], [`pull`], [`gc`], [`checkpoint`].
//!
//! Everything on a remote is immutable and named by its content, except claims (see
//! [`claim`]); that is what makes interrupted transfers rerunnable and concurrent pushes
//! safe (spec/format.md, "Remotes").

pub mod checkpoint;
pub mod claim;
pub mod fetch;
pub mod gc;
pub mod listing;
pub mod pull;
pub mod push;
pub mod transfer;

use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::{write_atomic, Dataset};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The remote used when none is named and the dataset has several.
pub const DEFAULT_REMOTE: &str = "origin";

/// Option keys that hold secrets: refused in the dataset config (they belong in the
/// environment or a credentials provider, never in `.coffer/`).
const SECRET_OPTIONS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "session_token",
    "token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// What this dataset last saw on a remote: a remote showing less later was rolled back or
/// had objects deleted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The remote's head versions.
    #[serde(default)]
    pub heads: Vec<Id>,
    /// The remote's newest policy: sequence number and id.
    #[serde(default)]
    pub policy: Option<(u64, Id)>,
}

/// One remote in `.coffer/remotes.json`.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct RemoteConfig {
    /// `s3://bucket[/prefix]`, `file:///path` or a folder path.
    pub url: String,
    /// Store options that are not secrets (`endpoint`, `region`, `allow_http`, ...).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Whether the store refused to overwrite an object written with `If-None-Match: *`,
    /// once probed (`None` until the first push).
    #[serde(default)]
    pub conditional: Option<bool>,
    /// What was last seen there.
    #[serde(default)]
    pub seen: Seen,
}

/// The remotes of one dataset.
pub struct Remotes {
    path: std::path::PathBuf,
    /// By name.
    pub map: BTreeMap<String, RemoteConfig>,
}

/// Check a remote URL before it is recorded: a scheme-like prefix that is not one coffer
/// knows (`s3:/x`, `s3:x`, `file:/x`: a typo would otherwise be taken as a folder), and a
/// folder inside the dataset (its encrypted store would be committed as data) are refused; a
/// folder whose parent is missing is refused (a typo in a parent) unless `create`, which
/// creates it. Returns the URL to record (a folder as an absolute path).
pub fn check_url(url: &str, dataset: &std::path::Path, create: bool) -> Result<String> {
    let url = url.trim();
    if let Some((scheme, rest)) = url.split_once(':') {
        let schemeish = !scheme.is_empty()
            && scheme.len() <= 10
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic());
        if schemeish && !rest.starts_with("//") {
            let sep = if scheme == "file" { ":///" } else { "://" };
            let fixed = format!("{scheme}{sep}{}", rest.trim_start_matches('/'));
            return Err(Error::Usage(format!(
                "{url}: not a URL coffer reads (one slash missing?); did you mean {fixed}?"
            )));
        }
    }
    if url.starts_with("s3://") {
        return Ok(url.to_string());
    }
    if let Some((scheme, _)) = url.split_once("://") {
        if scheme != "file" {
            return Err(Error::Usage(format!(
                "{url}: coffer reaches stores by s3:// or file:// URLs, or a folder path; `{scheme}://` is not supported"
            )));
        }
    }
    let path = std::path::Path::new(url.strip_prefix("file://").unwrap_or(url));
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|source| Error::Io {
                path: path.into(),
                source,
            })?
            .join(path)
    };
    // Resolve what exists of the path, so links and `..` cannot hide the dataset.
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(n), Some(p)) => {
                rest.push(n.to_owned());
                existing = p.to_path_buf();
            }
            _ => break,
        }
    }
    let mut resolved = std::fs::canonicalize(&existing).unwrap_or(existing.clone());
    for n in rest.iter().rev() {
        resolved.push(n);
    }
    let ds = std::fs::canonicalize(dataset).unwrap_or(dataset.to_path_buf());
    if resolved.starts_with(&ds) {
        return Err(Error::Usage(format!(
            "{url} is inside the dataset folder {}: the remote's encrypted store would be committed as data; choose a folder outside it",
            ds.display()
        )));
    }
    if rest.len() > 1 && !create {
        return Err(Error::Usage(format!(
            "{url}: {} does not exist (a typo?); pass --create to make it",
            existing.join(&rest[rest.len() - 1]).display()
        )));
    }
    if create {
        std::fs::create_dir_all(&resolved).map_err(|source| Error::Io {
            path: resolved.clone(),
            source,
        })?;
    }
    Ok(resolved.display().to_string())
}

/// A valid remote name: letters, digits, `-`, `_`, `.`; not starting with `-` or `.`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "remote name {name:?}: use letters, digits, '-', '_' or '.' (up to 64)"
        )))
    }
}

impl Remotes {
    /// Read `.coffer/remotes.json` (absent means none).
    pub fn load(ds: &Dataset) -> Result<Remotes> {
        let path = ds.dot.join("remotes.json");
        let map = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Malformed {
                what: "remotes file",
                reason: format!("{}: {e}", path.display()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(Error::Io { path, source }),
        };
        Ok(Remotes { path, map })
    }

    /// Write it back atomically.
    pub fn save(&self) -> Result<()> {
        let json = serde_json::to_vec_pretty(&self.map).unwrap_or_default();
        write_atomic(&self.path, &json)
    }

    /// Add a remote (the URL is parsed, not contacted). A folder URL is checked against
    /// `dataset` (it must not be inside it) and must have an existing parent unless `create`.
    pub fn add(
        &mut self,
        name: &str,
        url: &str,
        options: BTreeMap<String, String>,
        dataset: &std::path::Path,
        create: bool,
    ) -> Result<()> {
        check_name(name)?;
        if self.map.contains_key(name) {
            return Err(Error::Usage(format!(
                "remote {name} exists (remove it first with `coffer remote remove {name}`, or change it with `coffer remote set-url {name} URL`)"
            )));
        }
        let url = check_url(url, dataset, create)?;
        let url = url.as_str();
        for k in options.keys() {
            if SECRET_OPTIONS.contains(&k.to_ascii_lowercase().as_str()) {
                return Err(Error::Usage(format!(
                    "option {k} is a secret and is never written to .coffer/: set it in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)"
                )));
            }
        }
        // Fail now on a URL or option coffer cannot use.
        Store::open_url(url, &options)?;
        self.map.insert(
            name.to_string(),
            RemoteConfig {
                url: url.to_string(),
                options,
                ..Default::default()
            },
        );
        Ok(())
    }

    /// Point remote `name` at `url` (checked as by [`Remotes::add`]); what was seen at the
    /// old URL is forgotten.
    pub fn set_url(
        &mut self,
        name: &str,
        url: &str,
        dataset: &std::path::Path,
        create: bool,
    ) -> Result<()> {
        let url = check_url(url, dataset, create)?;
        let c = self.map.get_mut(name).ok_or_else(|| {
            Error::Usage(format!("no remote named {name} (see `coffer remote list`)"))
        })?;
        Store::open_url(&url, &c.options)?;
        c.url = url;
        c.seen = Seen::default();
        c.conditional = None;
        Ok(())
    }

    /// Rename a remote.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<()> {
        check_name(new)?;
        if self.map.contains_key(new) {
            return Err(Error::Usage(format!("remote {new} exists")));
        }
        let c = self.map.remove(old).ok_or_else(|| {
            Error::Usage(format!("no remote named {old} (see `coffer remote list`)"))
        })?;
        self.map.insert(new.to_string(), c);
        Ok(())
    }

    /// Remove a remote (its objects are not touched).
    pub fn remove(&mut self, name: &str) -> Result<RemoteConfig> {
        self.map.remove(name).ok_or_else(|| {
            Error::Usage(format!("no remote named {name} (see `coffer remote list`)"))
        })
    }

    /// The remote to use: `name`, else `origin`, else the only one.
    pub fn pick(&self, name: Option<&str>) -> Result<String> {
        match name {
            Some(n) if self.map.contains_key(n) => Ok(n.to_string()),
            Some(n) => Err(Error::Usage(format!(
                "no remote named {n} (see `coffer remote list`; add one with `coffer remote add {n} URL`)"
            ))),
            None if self.map.contains_key(DEFAULT_REMOTE) => Ok(DEFAULT_REMOTE.into()),
            None if self.map.len() == 1 => Ok(self.map.keys().next().cloned().unwrap_or_default()),
            None if self.map.is_empty() => Err(Error::Usage(
                "this dataset has no remotes (add one with `coffer remote add origin s3://BUCKET/PREFIX`)".into(),
            )),
            None => Err(Error::Usage(format!(
                "this dataset has {} remotes and none is named origin: name one",
                self.map.len()
            ))),
        }
    }
}

/// An open remote.
pub struct Remote {
    /// Its name.
    pub name: String,
    /// Its record.
    pub config: RemoteConfig,
    /// Its store.
    pub store: Store,
}

impl Remote {
    /// Open remote `name` (or the default) of `ds`.
    pub fn open(ds: &Dataset, name: Option<&str>) -> Result<(Remotes, Remote)> {
        let remotes = Remotes::load(ds)?;
        let name = remotes.pick(name)?;
        let config = remotes.map[&name].clone();
        check_credentials(&config.url, &config.options)?;
        let store = Store::open_url(&config.url, &config.options)?;
        Ok((
            remotes,
            Remote {
                name,
                config,
                store,
            },
        ))
    }

    /// A remote that is not (yet) recorded in a dataset, for clone.
    pub fn at(url: &str) -> Result<Remote> {
        check_credentials(url, &BTreeMap::new())?;
        Ok(Remote {
            name: url.to_string(),
            config: RemoteConfig {
                url: url.to_string(),
                ..Default::default()
            },
            store: Store::open_url(url, &BTreeMap::new())?,
        })
    }

    /// Turn an error met while talking to this remote into one that names it and says what
    /// to check. Local file errors and errors that already name a remote pass through.
    pub fn explain(&self, e: Error) -> Error {
        let reason = match &e {
            Error::Store { location, source } => {
                let text = source.to_string();
                let hint = explain_store_error(source, &format!("{text} {source:?}"), &text);
                format!("{location}: {hint}")
            }
            Error::Remote { .. } | Error::Behind { .. } | Error::Io { .. } => return e,
            other => other.to_string(),
        };
        self.problem(reason)
    }

    /// A remote-level problem (wrong dataset, rollback, ...).
    pub fn problem(&self, reason: impl Into<String>) -> Error {
        Error::Remote {
            name: self.name.clone(),
            url: self.config.url.clone(),
            reason: reason.into(),
        }
    }

    /// Probe once whether the store honours `If-None-Match: *`: write one object twice.
    /// A store that accepts the second write ignores conditions. The result is a hint for
    /// reporting; no correctness rests on it (spec/format.md, "Concurrent pushes").
    pub fn probe(&self) -> Result<bool> {
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let name = format!("probe/{}", hex::encode(nonce));
        let first = self.store.put_new(&name, &b"coffer probe 1"[..]);
        let second = self.store.put_new(&name, &b"coffer probe 2"[..]);
        let _ = self.store.delete(&name);
        match (first, second) {
            (Ok(true), Ok(false)) => Ok(true),
            (Ok(true), Ok(true)) => Ok(false),
            (Err(e), _) | (_, Err(e)) => Err(self.explain(e)),
            (Ok(false), _) => Err(self.problem(format!("{name} existed before it was written"))),
        }
    }
}

/// What to tell a person about a store error.
/// Name missing S3 credentials before any request is made, rather than let the client fall
/// back to the EC2 instance metadata service and fail there with an unrelated address. An
/// instance role is used when asked for (`AWS_EC2_METADATA_DISABLED=false`); other sources
/// the client reads (web identity, container credentials, unsigned requests) count too.
fn check_credentials(url: &str, options: &BTreeMap<String, String>) -> Result<()> {
    if !url.starts_with("s3://") {
        return Ok(());
    }
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    let option = |k: &str| {
        options
            .iter()
            .any(|(o, v)| o.eq_ignore_ascii_case(k) && v.eq_ignore_ascii_case("true"))
    };
    let other_source = set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || std::env::var("AWS_SKIP_SIGNATURE").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || option("skip_signature")
        || option("aws_skip_signature")
        || std::env::var("AWS_EC2_METADATA_DISABLED")
            .is_ok_and(|v| v.eq_ignore_ascii_case("false"));
    if other_source {
        return Ok(());
    }
    let missing: Vec<&str> = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .into_iter()
        .filter(|v| !set(v))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{url}: no S3 credentials: {} not set. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys) in the environment; on a cloud machine with an instance role, set AWS_EC2_METADATA_DISABLED=false",
        missing.join(" and "),
    )))
}

fn explain_store_error(e: &object_store::Error, all: &str, text: &str) -> String {
    let lower = all.to_ascii_lowercase();
    let hint = if matches!(e, object_store::Error::Unauthenticated { .. })
        || matches!(e, object_store::Error::PermissionDenied { .. })
        || lower.contains("accessdenied")
        || lower.contains("invalidaccesskeyid")
        || lower.contains("signaturedoesnotmatch")
        || lower.contains("status: 403")
        || lower.contains("403 forbidden")
    {
        "access denied: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and that they may use this bucket)"
    } else if lower.contains("nosuchbucket")
        || lower.contains("bucket does not exist")
        || lower.contains("status: 404")
    {
        "the bucket does not exist: create it, or check the URL"
    } else if lower.contains("kind: connect")
        || lower.contains("connection refused")
        || lower.contains("dns error")
        || lower.contains("timed out")
    {
        "cannot reach the store: check AWS_ENDPOINT_URL / the endpoint option and that the server is up"
    } else {
        ""
    };
    if hint.is_empty() {
        text.to_string()
    } else {
        format!("{hint} ({})", first_line(text))
    }
}

fn first_line(s: &str) -> &str {
    let s = s.lines().next().unwrap_or(s);
    match s.char_indices().nth(300) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
