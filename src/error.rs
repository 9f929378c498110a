//! The library's one error type: what went wrong, on which object or path, and what to do.

use crate::id::Id;
use std::path::PathBuf;

/// Everything a coffer operation can fail with.
///
/// Integrity errors name the object id and kind but never carry key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The folder (or one of its parents) holds no `.coffer/` dataset.
    #[error("not a coffer dataset: {0} (run `coffer init` there, or pass -C DIR)")]
    NotADataset(PathBuf),
    /// `coffer init` was run where a dataset already exists.
    #[error("a dataset already exists at {0}")]
    AlreadyADataset(PathBuf),
    /// No identity file was found at the path that was chosen.
    #[error("no identity at {path} (create one with `coffer id new --name NAME`, or pass --identity PATH / set COFFER_IDENTITY)")]
    NoIdentity {
        /// The path looked at.
        path: PathBuf,
    },
    /// The identity file exists but could not be read or decrypted.
    #[error("identity file {path}: {reason}")]
    BadIdentity {
        /// The identity file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A public identity string failed to parse or its checksum did not match.
    #[error("malformed public identity: {0}")]
    BadPublicIdentity(String),
    /// The identity in use is not a member of the dataset, or lacks the needed role
    /// (built by `rules::not_allowed`, which names people, not keys).
    #[error("dataset {dataset}: {you}; {why}")]
    NotAllowed {
        /// Who the identity is to the dataset ("you are Hackney (reader)").
        you: String,
        /// The dataset's name and short id.
        dataset: String,
        /// What the action needs, and whom to ask.
        why: String,
    },
    /// A stored object failed an integrity check: wrong hash, bad signature, failed decryption,
    /// malformed or non-canonical encoding.
    #[error("{kind} {id}: {reason}")]
    Corrupt {
        /// The object kind (pack, version, policy, tree, chunk, ...).
        kind: &'static str,
        /// The object id, as stored or referenced.
        id: Id,
        /// What check failed.
        reason: String,
    },
    /// A well-formed object that the trust rules do not accept (spec/format.md §9, §10.1a).
    #[error("{kind} {id}: {refusal}")]
    Refused {
        /// The object kind.
        kind: &'static str,
        /// The object id.
        id: Id,
        /// The rule it breaks and what happened.
        refusal: crate::rules::Refusal,
    },
    /// A referenced object is not in the store.
    #[error("{kind} {id} is missing from the store")]
    Missing {
        /// The object kind.
        kind: &'static str,
        /// The object id.
        id: Id,
    },
    /// An encoded value could not be decoded; `what` names the thing being decoded.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// An object declares a format version this build does not know.
    #[error(
        "{what} uses format version {found}, this coffer reads version {supported}: upgrade coffer"
    )]
    UnknownVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version found.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// The identity holds no key for the epoch a version was sealed under.
    #[error("{who} cannot open this content of dataset {dataset}: it is sealed under key epoch {epoch}, made while {who} was not a member (access given from a later point, or already withdrawn); a member who held access then can read it")]
    NoEpochKey {
        /// Label or public identity of the caller.
        who: String,
        /// The epoch.
        epoch: u32,
        /// The dataset id.
        dataset: Id,
    },
    /// A version reference (id, prefix, HEAD~N) did not resolve.
    #[error("unknown version `{0}` (use a version id, a unique prefix of one, HEAD or HEAD~N; see `coffer log`)")]
    UnknownRevision(String),
    /// A version prefix matched more than one version.
    #[error("version prefix `{0}` is ambiguous: give more characters")]
    AmbiguousRevision(String),
    /// A tree entry would be written outside the checkout folder, or has an invalid name.
    #[error("unsafe path in tree: {0}")]
    UnsafePath(String),
    /// A checkout would overwrite files that differ from what it would write.
    #[error("checkout would overwrite {count} file(s) that differ, first: {first} (use --force to overwrite)")]
    WouldOverwrite {
        /// How many conflicts.
        count: usize,
        /// The first conflicting path.
        first: String,
    },
    /// The working folder has changes that an operation would lose.
    #[error("the working folder has uncommitted changes: {0}")]
    Dirty(String),
    /// The dataset has no versions yet.
    #[error("the dataset has no versions yet (run `coffer commit -m MESSAGE`)")]
    NoVersions,
    /// Another coffer process holds the dataset lock.
    #[error("another coffer process is writing to this dataset ({0}); wait for it to finish")]
    Locked(PathBuf),
    /// A limit of the format was exceeded (for example a directory too large for one tree).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The object store failed.
    #[error("store {location}: {source}")]
    Store {
        /// The object path or store description.
        location: String,
        /// The underlying error.
        source: object_store::Error,
    },
    /// A remote failed, or holds something it should not.
    #[error("remote {}: {reason}", if name == url { url.clone() } else { format!("{name} ({url})") })]
    Remote {
        /// The remote's name.
        name: String,
        /// Its URL.
        url: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A push found versions on the remote that this dataset does not have.
    #[error("remote {name} has {what} this dataset does not have: run `coffer pull {name}`, then push again")]
    Behind {
        /// The remote's name.
        name: String,
        /// What it has, for people.
        what: String,
    },
    /// A checkout failed after it began to put its staged files in place.
    #[error("checkout into {dir} stopped part-way while putting files in place: {source}; the folder holds some files of each version: fix that, then run the same checkout again with --force to finish it")]
    PartWay {
        /// The folder checked out into.
        dir: PathBuf,
        /// What failed.
        source: Box<Error>,
    },
    /// Ctrl-C: the operation stopped at a safe point.
    #[error("interrupted: the last version is intact; run it again to resume")]
    Interrupted,
    /// A user-supplied argument was invalid.
    #[error("{0}")]
    Usage(String),
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
