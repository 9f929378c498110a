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

/// A handle on one store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    rt: Arc<tokio::runtime::Runtime>,
    describe: String,
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
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                path: dir.into(),
                source,
            })?;
        Ok(Store {
            inner: Arc::new(fs),
            rt: Arc::new(rt),
            describe: dir.display().to_string(),
        })
    }

    /// Human description of the store.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Write a new immutable object. Returns false if the name already existed.
    pub fn put_new(&self, name: &str, bytes: Vec<u8>) -> Result<bool> {
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
        let p = OPath::from(name);
        let r = self.rt.block_on(async {
            let g = self.inner.get(&p).await?;
            g.bytes().await
        });
        match r {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_err(name, e)),
        }
    }

    /// Read a byte range of an object.
    pub fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        let want = range.end - range.start;
        let b = self
            .rt
            .block_on(self.inner.get_range(&OPath::from(name), range))
            .map_err(|e| store_err(name, e))?;
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

    /// Size of an object; `None` if absent.
    pub fn size(&self, name: &str) -> Result<Option<u64>> {
        match self.rt.block_on(self.inner.head(&OPath::from(name))) {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_err(name, e)),
        }
    }

    /// All objects under `prefix`, as `(name, size)`, sorted by name.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let p = OPath::from(prefix);
        let mut out: Vec<(String, u64)> = self
            .rt
            .block_on(
                self.inner
                    .list(Some(&p))
                    .map_ok(|m| (m.location.to_string(), m.size))
                    .try_collect(),
            )
            .map_err(|e| store_err(prefix, e))?;
        out.sort();
        Ok(out)
    }

    /// Ids of the objects under `prefix` whose last path segment is an id.
    pub fn list_ids(&self, prefix: &str) -> Result<Vec<(Id, u64)>> {
        Ok(self
            .list(prefix)?
            .into_iter()
            .filter_map(|(n, s)| Id::from_hex(n.rsplit('/').next()?).map(|i| (i, s)))
            .collect())
    }

    /// Delete an object (absent is fine).
    pub fn delete(&self, name: &str) -> Result<()> {
        match self.rt.block_on(self.inner.delete(&OPath::from(name))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(name, e)),
        }
    }
}
