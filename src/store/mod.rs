//! Object storage through the `object_store` crate, with a blocking API and coffer's
//! object names (spec/format.md, "Store layout").

use crate::error::{Error, Result};
use crate::id::Id;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as OPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::ops::Range;
use std::sync::Arc;

pub mod direct;
pub mod reader;

/// The name of a policy object.
pub fn policy_path(id: &Id) -> String {
    format!("policy/{id}")
}
/// The name of a version object.
pub fn version_path(id: &Id) -> String {
    format!("versions/{id}")
}
/// The name of a pack.
pub fn pack_path(id: &Id) -> String {
    let h = id.to_hex();
    format!("packs/{}/{}", &h[..2], h)
}

/// Whether `name` is exactly where a store keeps the object `id` of its kind (a copy of an
/// object under any other name is junk).
pub fn canonical(name: &str, id: &Id) -> bool {
    match name.split('/').next() {
        Some("policy") => name == policy_path(id),
        Some("versions") => name == version_path(id),
        Some("packs") => name == pack_path(id),
        Some("claims") => name == claim_path(id),
        Some("checkpoints") => name == checkpoint_path(id),
        Some("cosignatures") => name == cosignature_path(id),
        _ => false,
    }
}

/// Whether `name` is a staged write of an object: `NAME#N`, with NAME exactly where the
/// store keeps an object and N decimal. Nothing else with a `#` is (a folder store may
/// share its folder with other files).
pub fn is_staged(name: &str) -> bool {
    let Some((object, n)) = name.rsplit_once('#') else {
        return false;
    };
    !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && crate::remote::transfer::expected_id(object).is_some_and(|id| canonical(object, &id))
}

/// The name of a checkpoint (spec/format.md §10.5).
pub fn checkpoint_path(id: &Id) -> String {
    format!("checkpoints/{id}")
}

/// The name of a witness's cosignature (spec/format.md §10.5).
pub fn cosignature_path(id: &Id) -> String {
    format!("cosignatures/{id}")
}

/// The name of a claim (spec/format.md, "Remotes").
pub fn claim_path(id: &Id) -> String {
    format!("claims/{id}")
}

/// Objects at least this large are uploaded in parts, unless `COFFER_MULTIPART_MIB` says
/// otherwise. Above a normal pack (16-18 MiB): one PUT of a pack is 1.8x faster than three
/// requests of a multipart upload (bench/remote.sh on moto: 1.9 s vs 3.5 s for 451 MiB).
pub const MULTIPART_THRESHOLD: usize = 32 << 20;
/// Part size of a multipart upload (S3's minimum is 5 MiB).
const PART_SIZE: usize = 8 << 20;

/// The multipart threshold in force: `COFFER_MULTIPART_MIB` (whole MiB, at least 5, S3's
/// smallest part), else [`MULTIPART_THRESHOLD`].
pub fn multipart_threshold() -> usize {
    std::env::var("COFFER_MULTIPART_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map(|m| m.max(5) << 20)
        .unwrap_or(MULTIPART_THRESHOLD)
}

/// One listed object.
#[derive(Clone, Debug)]
pub struct Meta {
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, seconds since the Unix epoch.
    pub modified: u64,
}

/// A handle on one store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    rt: Arc<tokio::runtime::Runtime>,
    describe: String,
    /// False once the store answered a range request with the whole object.
    ranges: Arc<std::sync::atomic::AtomicBool>,
    /// A folder on this machine: its path. Reads go straight to the file system (a thread
    /// handoff per read through the runtime cost more than the read).
    local: Option<Arc<std::path::PathBuf>>,
    /// Requests made so far (multipart uploads count each part).
    requests: Arc<std::sync::atomic::AtomicU64>,
    /// Bytes received so far.
    received: Arc<std::sync::atomic::AtomicU64>,
    /// Where reads of objects this store lacks go (a partial clone's origin).
    fallback: Option<Arc<Store>>,
}

/// The one runtime every store of this process runs its requests on: starting threads per
/// store opened cost more than the requests themselves on a local store.
fn runtime(what: &str) -> Result<Arc<tokio::runtime::Runtime>> {
    static RT: std::sync::OnceLock<Arc<tokio::runtime::Runtime>> = std::sync::OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt.clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|source| Error::Io {
            path: what.into(),
            source,
        })?;
    Ok(RT.get_or_init(|| rt).clone())
}

fn store_err(location: &str, source: object_store::Error) -> Error {
    Error::Store {
        location: location.to_string(),
        source,
    }
}

impl Store {
    /// A store in a local folder (created if missing); writes are fsynced.
    pub fn open_local(dir: &std::path::Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.into(),
            source,
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| store_err(&dir.display().to_string(), e))?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(Store {
            inner: Arc::new(fs),
            rt: runtime(&dir.display().to_string())?,
            describe: dir.display().to_string(),
            ranges: Arc::new(true.into()),
            local: Some(Arc::new(dir.to_path_buf())),
            requests: Arc::default(),
            received: Arc::default(),
            fallback: None,
        })
    }

    /// A store named by a URL: `s3://bucket[/prefix]` (credentials, endpoint and region from
    /// the standard `AWS_*` variables), `file:///path`, or a plain folder path.
    ///
    /// `options` are object_store configuration keys (`endpoint`, `region`, `allow_http`, ...)
    /// applied after the environment.
    pub fn open_url(
        url: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Result<Store> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Usage(format!(
                    "{url}: no bucket name (expected s3://BUCKET[/PREFIX])"
                )));
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                // Fail in seconds, not minutes, when the endpoint is down or the
                // credentials are wrong; transfers are rerunnable anyway.
                .with_retry(object_store::RetryConfig {
                    backoff: object_store::BackoffConfig::default(),
                    max_retries: 3,
                    retry_timeout: std::time::Duration::from_secs(20),
                });
            // Set key by key: `with_client_options` would replace what the environment set
            // (AWS_ALLOW_HTTP among it).
            use object_store::aws::AmazonS3ConfigKey as K;
            use object_store::ClientConfigKey as C;
            b = b
                .with_config(K::Client(C::ConnectTimeout), "5s")
                .with_config(K::Client(C::Timeout), "120s");
            if std::env::var_os("AWS_REGION").is_none()
                && std::env::var_os("AWS_DEFAULT_REGION").is_none()
            {
                b = b.with_region("us-east-1");
            }
            for (k, v) in options {
                let key = k.parse().map_err(|_| {
                    Error::Usage(format!(
                        "{url}: unknown store option {k:?} (see the object_store AmazonS3ConfigKey list: endpoint, region, allow_http, ...)"
                    ))
                })?;
                b = b.with_config(key, v);
            }
            let s3 = b.build().map_err(|e| store_err(url, e))?;
            let inner: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
                "" => Arc::new(s3),
                p => Arc::new(object_store::prefix::PrefixStore::new(s3, p)),
            };
            return Ok(Store {
                inner,
                rt: runtime(url)?,
                describe: url.to_string(),
                ranges: Arc::new(true.into()),
                local: None,
                requests: Arc::default(),
                received: Arc::default(),
                fallback: None,
            });
        }
        if let Some((scheme, _)) = url.split_once("://") {
            if scheme != "file" {
                return Err(Error::Usage(format!(
                    "{url}: coffer reaches stores by s3:// or file:// URLs, or a folder path; `{scheme}://` is not supported"
                )));
            }
        }
        if !options.is_empty() {
            return Err(Error::Usage(format!(
                "{url}: a folder store takes no options"
            )));
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        let mut s = Store::open_local(std::path::Path::new(path))?;
        s.describe = url.to_string();
        Ok(s)
    }

    fn count(&self, n: u64) {
        self.requests
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn got(&self, n: usize) {
        self.received
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes received through this handle so far.
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Read objects this store lacks from `other` instead: a whole pack is then kept here
    /// only when `other` cannot serve byte ranges; otherwise just the ranges travel.
    pub fn with_fallback(mut self, other: Store) -> Store {
        self.fallback = Some(Arc::new(other));
        self
    }

    /// The store reads fall back to, if any.
    pub fn fallback(&self) -> Option<&Store> {
        self.fallback.as_deref()
    }

    /// Requests made through this handle so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether this is a folder on this machine.
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The file behind `name` in a folder store (`None` for other stores, or a name that is
    /// not a plain relative path).
    fn file(&self, name: &str) -> Option<std::path::PathBuf> {
        let root = self.local.as_ref()?;
        let plain = !name.is_empty()
            && name
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
        plain.then(|| root.join(name))
    }

    /// An error reading a folder store's file: a missing file is the same `NotFound` store
    /// error the other stores give.
    fn io_err(&self, name: &str, source: std::io::Error) -> Error {
        if source.kind() == std::io::ErrorKind::NotFound {
            return store_err(
                name,
                object_store::Error::NotFound {
                    path: name.into(),
                    source: source.into(),
                },
            );
        }
        Error::Io {
            path: self
                .local
                .as_deref()
                .map(|r| r.join(name))
                .unwrap_or_default(),
            source,
        }
    }

    /// Human description of the store.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Write a new immutable object. Returns false if the name already existed.
    pub fn put_new(&self, name: &str, bytes: impl Into<Bytes>) -> Result<bool> {
        self.count(1);
        let bytes = bytes.into();
        if bytes.len() >= direct::MIN_SIZE {
            if let Some(path) = self.file(name) {
                return direct::put_new(&path, &bytes).map_err(|e| self.io_err(name, e));
            }
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let r = self.rt.block_on(self.inner.put_opts(
            &OPath::from(name),
            PutPayload::from(bytes),
            opts,
        ));
        match r {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(store_err(name, e)),
        }
    }

    /// Read a whole object; `None` if absent.
    pub fn get(&self, name: &str) -> Result<Option<Bytes>> {
        self.count(1);
        if let Some(path) = self.file(name) {
            return match std::fs::read(&path) {
                Ok(b) => {
                    self.got(b.len());
                    Ok(Some(b.into()))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match &self.fallback {
                    Some(f) => f.get(name),
                    None => Ok(None),
                },
                Err(e) => Err(self.io_err(name, e)),
            };
        }
        let p = OPath::from(name);
        let r = self.rt.block_on(async {
            let g = self.inner.get(&p).await?;
            g.bytes().await
        });
        match r {
            Ok(b) => {
                self.got(b.len());
                Ok(Some(b))
            }
            Err(object_store::Error::NotFound { .. }) => match &self.fallback {
                Some(f) => f.get(name),
                None => Ok(None),
            },
            Err(e) => Err(store_err(name, e)),
        }
    }

    /// Read an object as a stream, never holding it whole: its BLAKE3 hash (as
    /// [`Id::of_stored`]), its length, and its last `tail` bytes (fewer if it is shorter).
    /// `None` if absent. Memory is one buffer, whatever the object's size.
    pub fn hash_streamed(&self, name: &str, tail: usize) -> Result<Option<(Id, u64, Vec<u8>)>> {
        struct Acc {
            h: blake3::Hasher,
            n: u64,
            tail: Vec<u8>,
            keep: usize,
        }
        impl Acc {
            fn eat(&mut self, b: &[u8]) {
                self.h.update(b);
                self.n += b.len() as u64;
                self.tail
                    .extend_from_slice(&b[b.len().saturating_sub(self.keep)..]);
                let extra = self.tail.len().saturating_sub(self.keep);
                self.tail.drain(..extra);
            }
        }
        let mut acc = Acc {
            h: blake3::Hasher::new(),
            n: 0,
            tail: Vec::new(),
            keep: tail,
        };
        self.count(1);
        if let Some(path) = self.file(name) {
            use std::io::Read;
            let mut f = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return match &self.fallback {
                        Some(fb) => fb.hash_streamed(name, tail),
                        None => Ok(None),
                    }
                }
                Err(e) => return Err(self.io_err(name, e)),
            };
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf).map_err(|e| self.io_err(name, e))?;
                if n == 0 {
                    break;
                }
                acc.eat(&buf[..n]);
            }
            self.got(acc.n as usize);
            return Ok(Some((Id(*acc.h.finalize().as_bytes()), acc.n, acc.tail)));
        }
        let p = OPath::from(name);
        let r = self.rt.block_on(async {
            use futures::StreamExt;
            let mut stream = self.inner.get(&p).await?.into_stream();
            while let Some(chunk) = stream.next().await {
                acc.eat(&chunk?);
            }
            Ok::<_, object_store::Error>(())
        });
        match r {
            Ok(()) => {
                self.got(acc.n as usize);
                Ok(Some((Id(*acc.h.finalize().as_bytes()), acc.n, acc.tail)))
            }
            Err(object_store::Error::NotFound { .. }) => match &self.fallback {
                Some(f) => f.hash_streamed(name, tail),
                None => Ok(None),
            },
            Err(e) => Err(store_err(name, e)),
        }
    }

    /// Write a content-named object (rewriting one that exists is harmless): in a folder,
    /// created atomically and fsynced; elsewhere, large ones in parts.
    pub fn put_content(&self, name: &str, bytes: Bytes) -> Result<()> {
        if self.is_local() {
            return self.put_new(name, bytes).map(|_| ());
        }
        let threshold = multipart_threshold();
        self.count(
            1 + if bytes.len() < threshold {
                0
            } else {
                1 + bytes.len().div_ceil(PART_SIZE) as u64
            },
        );
        let p = OPath::from(name);
        let r = self.rt.block_on(async {
            if bytes.len() < threshold {
                return self
                    .inner
                    .put(&p, PutPayload::from(bytes))
                    .await
                    .map(|_| ());
            }
            let upload = self.inner.put_multipart(&p).await?;
            let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            if crate::testhook::armed("part") {
                // The first part, stored, then the pause: a kill mid-multipart.
                w.put(bytes.slice(..PART_SIZE.min(bytes.len())));
                w.wait_for_capacity(0).await?;
                crate::testhook::pause("part");
                w.put(bytes.slice(PART_SIZE.min(bytes.len())..));
            } else {
                w.put(bytes);
            }
            w.finish().await.map(|_| ())
        });
        r.map_err(|e| store_err(name, e))
    }

    /// Read a byte range of an object. A store that answers with the whole object (some
    /// S3-compatible servers ignore `Range`) is read whole and sliced, and remembered.
    pub fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        use std::sync::atomic::Ordering;
        let want = range.end - range.start;
        if let Some(path) = self.file(name) {
            use std::os::unix::fs::FileExt;
            self.count(1);
            let range_err = |e: std::io::Error| {
                let said = format!("range {range:?}: {e}");
                self.io_err(name, std::io::Error::new(e.kind(), said))
            };
            // Large ranges straight from the device; a missing file, or a file system that
            // refuses direct reads, takes the plain path below.
            if want >= direct::MIN_SIZE as u64 {
                match direct::read_range(&path, range.clone()) {
                    Ok(Some(b)) => {
                        self.got(b.len());
                        return Ok(b);
                    }
                    Ok(None) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(range_err(e)),
                }
            }
            let f = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.fallback.is_some() => {
                    return self.range_from_fallback(name, range);
                }
                Err(e) => return Err(self.io_err(name, e)),
            };
            let mut buf = vec![0u8; want as usize];
            f.read_exact_at(&mut buf, range.start).map_err(range_err)?;
            self.got(buf.len());
            return Ok(buf.into());
        }
        let b = if self.ranges.load(Ordering::Relaxed) {
            self.count(1);
            match self
                .rt
                .block_on(self.inner.get_range(&OPath::from(name), range.clone()))
            {
                Ok(b) => b,
                Err(object_store::Error::NotFound { .. }) if self.fallback.is_some() => {
                    return self.range_from_fallback(name, range);
                }
                Err(e) if e.to_string().contains("non-partial") => {
                    self.ranges.store(false, Ordering::Relaxed);
                    self.get_range(name, range.clone())?
                }
                Err(e) => return Err(store_err(name, e)),
            }
        } else {
            let whole = self.get(name)?.ok_or_else(|| Error::Store {
                location: name.into(),
                source: object_store::Error::NotFound {
                    path: name.into(),
                    source: "absent".into(),
                },
            })?;
            if range.end > whole.len() as u64 {
                return Err(Error::Store {
                    location: name.into(),
                    source: object_store::Error::Generic {
                        store: "coffer",
                        source: format!("range {range:?} beyond {} bytes", whole.len()).into(),
                    },
                });
            }
            whole.slice(range.start as usize..range.end as usize)
        };
        self.got(b.len());
        if b.len() as u64 != want {
            return Err(Error::Store {
                location: name.into(),
                source: object_store::Error::Generic {
                    store: "coffer",
                    source: format!("short range read: {} of {want} bytes", b.len()).into(),
                },
            });
        }
        Ok(b)
    }

    /// A range of an object this store lacks, from the fallback. A fallback that ignores
    /// ranges sends whole objects: keep the (checked) object here so it travels once.
    fn range_from_fallback(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        let Some(f) = &self.fallback else {
            return self.get_range(name, range);
        };
        if f.honours_ranges() {
            let b = f.get_range(name, range.clone())?;
            if f.honours_ranges() {
                return Ok(b);
            }
        }
        let whole = f.get(name)?.ok_or_else(|| Error::Missing {
            kind: "object",
            id: crate::remote::transfer::expected_id(name).unwrap_or(Id::ZERO),
        })?;
        crate::remote::transfer::check_content(name, &whole)?;
        self.put_new(name, whole)?;
        self.get_range(name, range)
    }

    /// Size of an object; `None` if absent.
    pub fn size(&self, name: &str) -> Result<Option<u64>> {
        self.count(1);
        if let Some(path) = self.file(name) {
            return match std::fs::metadata(&path) {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.fallback.as_ref().map_or(Ok(None), |f| f.size(name))
                }
                Err(e) => Err(self.io_err(name, e)),
            };
        }
        match self.rt.block_on(self.inner.head(&OPath::from(name))) {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) if self.fallback.is_some() => {
                self.fallback.as_ref().map_or(Ok(None), |f| f.size(name))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_err(name, e)),
        }
    }

    /// All objects under `prefix`, as `(name, size)`, sorted by name.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        Ok(self
            .list_meta(prefix)?
            .into_iter()
            .map(|m| (m.name, m.size))
            .collect())
    }

    /// All objects under `prefix` with their sizes and times, sorted by name.
    pub fn list_meta(&self, prefix: &str) -> Result<Vec<Meta>> {
        self.count(1);
        if let Some(root) = &self.local {
            return self.list_folder(root, prefix, false);
        }
        let p = OPath::from(prefix);
        let mut out: Vec<Meta> = self
            .rt
            .block_on(
                self.inner
                    .list(Some(&p))
                    .map_ok(|m| Meta {
                        name: m.location.to_string(),
                        size: m.size,
                        modified: m.last_modified.timestamp().max(0) as u64,
                    })
                    .try_collect(),
            )
            .map_err(|e| store_err(prefix, e))?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A folder store's staged writes (`NAME#N`, spec §12): in progress, or left by a
    /// writer that was killed. Other stores have none (an upload is invisible until done).
    pub fn list_staged(&self) -> Result<Vec<Meta>> {
        match &self.local {
            Some(root) => Ok(self
                .list_folder(root, "", true)?
                .into_iter()
                .filter(|m| is_staged(&m.name))
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Remove a staged write that [`Store::list_staged`] named.
    pub fn delete_staged(&self, name: &str) -> Result<()> {
        let Some(root) = self.local.as_ref().filter(|_| is_staged(name)) else {
            return Err(Error::Usage(format!("{name}: not a staged write")));
        };
        match std::fs::remove_file(root.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io_err(name, e)),
            _ => Ok(()),
        }
    }

    /// [`Store::list_meta`] of a folder store, walking it directly. Names with `#` are a
    /// write in progress (a temporary file), not objects: listed only when `staged`.
    fn list_folder(&self, root: &std::path::Path, prefix: &str, staged: bool) -> Result<Vec<Meta>> {
        let start = if prefix.is_empty() {
            root.to_path_buf()
        } else {
            root.join(prefix)
        };
        let mut out = Vec::new();
        if !start.exists() {
            return Ok(out);
        }
        for e in walkdir::WalkDir::new(&start).min_depth(1) {
            let e = e.map_err(|e| self.io_err(prefix, std::io::Error::other(e)))?;
            if !e.file_type().is_file() {
                continue;
            }
            let Ok(rel) = e.path().strip_prefix(root) else {
                continue;
            };
            let Some(name) = rel.to_str().map(|s| s.replace('\\', "/")) else {
                continue;
            };
            if name.contains('#') != staged {
                continue;
            }
            let md = e
                .metadata()
                .map_err(|err| self.io_err(&name, std::io::Error::other(err)))?;
            let modified = md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or(0);
            out.push(Meta {
                name,
                size: md.len(),
                modified,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Whether range requests return just the range (false once seen otherwise).
    pub fn honours_ranges(&self) -> bool {
        self.ranges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Ids of the objects under `prefix` whose last path segment is an id.
    pub fn list_ids(&self, prefix: &str) -> Result<Vec<(Id, u64)>> {
        Ok(self
            .list(prefix)?
            .into_iter()
            .filter_map(|(n, s)| {
                let i = Id::from_hex(n.rsplit('/').next()?)?;
                canonical(&n, &i).then_some((i, s))
            })
            .collect())
    }

    /// Delete an object (absent is fine).
    pub fn delete(&self, name: &str) -> Result<()> {
        self.count(1);
        match self.rt.block_on(self.inner.delete(&OPath::from(name))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(name, e)),
        }
    }
}
