//! Identities: an Ed25519 signing key and an X25519 key in a 0600 file, optionally locked
//! with a passphrase (Argon2id + AES-256-GCM); public identities as bech32m strings
//! (spec/format.md, "Identities").

use crate::codec;
use crate::crypto::aead::AeadKey;
use crate::crypto::{wrap, AAD_IDENTITY, PUBLIC_ID_HRP};
use crate::error::{Error, IoContext, Result};
use crate::id::Bytes32;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

/// Envelope kind of an unlocked identity file.
pub const KIND: &str = "identity";
/// Envelope kind of a passphrase-locked identity file.
pub const LOCKED_KIND: &str = "identity-locked";

/// Argon2id memory, KiB (64 MiB).
pub const KDF_M_KIB: u32 = 64 * 1024;
/// The most Argon2 memory a reader grants a locked identity file: checked before anything is
/// allocated, since a failed allocation of a larger claim would kill the process (spec §10.3).
pub const MAX_KDF_M_KIB: u32 = 1024 * 1024;
/// Argon2id passes.
pub const KDF_T: u32 = 3;
/// Argon2id lanes.
pub const KDF_P: u32 = 1;

/// A secret identity.
pub struct Identity {
    /// The name given at creation.
    pub name: String,
    signing: ed25519_dalek::SigningKey,
    kx: Zeroizing<[u8; 32]>,
}

/// The public half: what others add as a recipient.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicIdentity {
    /// Ed25519 public key.
    pub sign: [u8; 32],
    /// X25519 public key.
    pub kx: [u8; 32],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Plain {
    kx: Bytes32,
    name: String,
    sign: Bytes32,
}

impl Drop for Plain {
    fn drop(&mut self) {
        self.kx.0.zeroize();
        self.sign.0.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Locked {
    p: u32,
    t: u32,
    name: String,
    #[serde(with = "serde_bytes")]
    salt: Vec<u8>,
    m_kib: u32,
    public: String,
    #[serde(with = "serde_bytes")]
    sealed: Vec<u8>,
}

/// Where a passphrase comes from.
pub enum Passphrase {
    /// No passphrase: the file is stored unlocked.
    None,
    /// Read from this environment variable.
    Env(String),
    /// Ask on the terminal.
    Prompt,
}

impl Passphrase {
    fn get(&self, confirm: bool, path: &Path) -> Result<Option<Zeroizing<String>>> {
        let bad = |reason: String| Error::BadIdentity {
            path: path.into(),
            reason,
        };
        match self {
            Passphrase::None => Ok(None),
            Passphrase::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(Zeroizing::new(v))),
                _ => Err(bad(format!(
                    "environment variable {var} is empty or not set"
                ))),
            },
            Passphrase::Prompt => {
                let no_terminal = |e: std::io::Error| {
                    bad(format!(
                        "cannot ask for a passphrase here ({e}): put it in an environment variable and pass --passphrase-env VAR"
                    ))
                };
                let p = Zeroizing::new(
                    rpassword::prompt_password(format!("passphrase for {}: ", path.display()))
                        .map_err(no_terminal)?,
                );
                if p.is_empty() {
                    return Err(bad("empty passphrase".into()));
                }
                if confirm {
                    let again =
                        Zeroizing::new(rpassword::prompt_password("again: ").map_err(no_terminal)?);
                    if *again != *p {
                        return Err(bad("the passphrases differ".into()));
                    }
                }
                Ok(Some(p))
            }
        }
    }
}

fn kdf(pass: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Option<Zeroizing<[u8; 32]>> {
    let params = argon2::Params::new(m, t, p, Some(32)).ok()?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(pass.as_bytes(), salt, out.as_mut())
        .ok()?;
    Some(out)
}

impl Identity {
    /// A fresh identity.
    pub fn generate(name: &str) -> Identity {
        use rand_core::{OsRng, RngCore};
        let signing = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let mut kx = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(kx.as_mut());
        Identity {
            name: name.to_string(),
            signing,
            kx,
        }
    }

    /// Build from raw secrets (known-answer vectors and tests).
    pub fn from_secrets(name: &str, sign_seed: [u8; 32], kx: [u8; 32]) -> Identity {
        Identity {
            name: name.into(),
            signing: ed25519_dalek::SigningKey::from_bytes(&sign_seed),
            kx: Zeroizing::new(kx),
        }
    }

    /// The public identity.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            sign: self.signing.verifying_key().to_bytes(),
            kx: wrap::x25519_public(&self.kx),
        }
    }

    /// The Ed25519 signing key.
    pub fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.signing
    }

    /// The X25519 secret.
    pub fn kx_secret(&self) -> &[u8; 32] {
        &self.kx
    }

    /// Encode the identity file, locked when a passphrase is given.
    pub fn to_file_bytes(&self, pass: Option<&str>) -> Result<Vec<u8>> {
        let Some(pass) = pass else {
            let plain = Plain {
                kx: Bytes32(*self.kx),
                name: self.name.clone(),
                sign: Bytes32(self.signing.to_bytes()),
            };
            return Ok(codec::encode(KIND, &plain));
        };
        use rand_core::{OsRng, RngCore};
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        self.to_locked_bytes(pass, &salt, (KDF_M_KIB, KDF_T, KDF_P), None)
    }

    /// A locked identity file with chosen salt, Argon2 parameters `(m_kib, t, p)` and, for
    /// known-answer vectors, nonce (`None`: random).
    pub fn to_locked_bytes(
        &self,
        pass: &str,
        salt: &[u8],
        (m_kib, t, p): (u32, u32, u32),
        nonce: Option<&[u8; 12]>,
    ) -> Result<Vec<u8>> {
        let key = kdf(pass, salt, m_kib, t, p)
            .ok_or_else(|| Error::Usage("key derivation failed".into()))?;
        let public = self.public().to_string();
        let mut secret = Zeroizing::new(Vec::with_capacity(64));
        secret.extend_from_slice(&self.signing.to_bytes());
        secret.extend_from_slice(self.kx.as_ref());
        let mut aad = AAD_IDENTITY.to_vec();
        aad.extend_from_slice(public.as_bytes());
        let k = AeadKey::new(&key);
        let mut sealed = Vec::new();
        match nonce {
            Some(n) => k.seal_with_nonce_into(n, &aad, &secret, &mut sealed),
            None => k.seal_into(&aad, &secret, &mut sealed),
        }
        Ok(codec::encode(
            LOCKED_KIND,
            &Locked {
                p,
                t,
                name: self.name.clone(),
                salt: salt.to_vec(),
                m_kib,
                public,
                sealed,
            },
        ))
    }

    /// Decode identity file bytes: unlocked, or locked and opened with `pass`. Errors say
    /// what is wrong with the file (the caller adds its path).
    pub fn from_file_bytes(
        bytes: &[u8],
        pass: Option<&str>,
    ) -> std::result::Result<Identity, String> {
        if let Ok(p) = codec::decode::<Plain>(KIND, bytes) {
            return Ok(Identity::from_secrets(&p.name, p.sign.0, p.kx.0));
        }
        let l = decode_locked(bytes)?;
        let pw = pass.ok_or("it is passphrase-protected")?;
        let key = kdf(pw, &l.salt, l.m_kib, l.t, l.p).ok_or("key derivation failed")?;
        let mut aad = AAD_IDENTITY.to_vec();
        aad.extend_from_slice(l.public.as_bytes());
        let secret = Zeroizing::new(
            AeadKey::new(&key)
                .open(&aad, &l.sealed)
                .ok_or("wrong passphrase (or the file was altered)")?,
        );
        if secret.len() != 64 {
            return Err("sealed secret has the wrong length".into());
        }
        let mut s = [0u8; 32];
        let mut k = [0u8; 32];
        s.copy_from_slice(&secret[..32]);
        k.copy_from_slice(&secret[32..]);
        let id = Identity::from_secrets(&l.name, s, k);
        s.zeroize();
        k.zeroize();
        if id.public().to_string() != l.public {
            return Err("public identity does not match the secret".into());
        }
        Ok(id)
    }

    /// Write a new identity file with mode 0600; refuses to overwrite an existing file.
    pub fn save(&self, path: &Path, pass: &Passphrase) -> Result<()> {
        let pass = pass.get(true, path)?;
        let bytes = self.to_file_bytes(pass.as_deref().map(|s| s.as_str()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Usage(format!(
                    "{} already exists; refusing to overwrite an identity (choose another --out)",
                    path.display()
                ))
            } else {
                Error::Io {
                    path: path.into(),
                    source: e,
                }
            }
        })?;
        f.write_all(&bytes).at(path)?;
        f.sync_all().at(path)?;
        Ok(())
    }

    /// Read an identity file, asking for the passphrase through `pass` if it is locked.
    pub fn load(path: &Path, pass: &Passphrase) -> Result<Identity> {
        let bytes = match std::fs::read(path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoIdentity { path: path.into() })
            }
            Err(e) => {
                return Err(Error::Io {
                    path: path.into(),
                    source: e,
                })
            }
        };
        let bad = |reason: String| Error::BadIdentity {
            path: path.into(),
            reason,
        };
        if codec::decode::<Plain>(KIND, &bytes).is_ok() {
            return Identity::from_file_bytes(&bytes, None).map_err(bad);
        }
        if let Some(text) = std::str::from_utf8(&bytes)
            .ok()
            .map(str::trim)
            .filter(|t| t.starts_with("coffer1") && t.parse::<PublicIdentity>().is_ok())
        {
            return Err(bad(format!(
                "this is a public identity ({}...), which others use to add you; pass your own identity file, the one `coffer id new` wrote",
                &text[..16.min(text.len())]
            )));
        }
        // Refuse a malformed or greedy file before asking for a passphrase.
        decode_locked(&bytes).map_err(bad)?;
        let pass = match pass {
            Passphrase::None => Passphrase::Prompt,
            Passphrase::Env(v) => Passphrase::Env(v.clone()),
            Passphrase::Prompt => Passphrase::Prompt,
        };
        if matches!(pass, Passphrase::Prompt)
            && !std::io::IsTerminal::is_terminal(&std::io::stdin())
        {
            return Err(bad(
                "it is passphrase-protected and no terminal is attached (use --passphrase-env VAR)"
                    .into(),
            ));
        }
        let pw = pass.get(false, path)?.unwrap_or_default();
        Identity::from_file_bytes(&bytes, Some(&pw)).map_err(bad)
    }
}

/// Decode a locked identity file and check its key derivation parameters (spec §10.3), before
/// anything is allocated for them.
fn decode_locked(bytes: &[u8]) -> std::result::Result<Locked, String> {
    let l: Locked = codec::decode(LOCKED_KIND, bytes)
        .map_err(|e| format!("not a coffer identity file ({e})"))?;
    if l.m_kib > MAX_KDF_M_KIB {
        return Err(format!(
            "it asks for {} MiB of memory to derive its key; coffer allows at most {} MiB",
            l.m_kib / 1024,
            MAX_KDF_M_KIB / 1024
        ));
    }
    if l.t > 64 || l.p == 0 || l.p > 64 || l.salt.len() < 16 {
        return Err("key derivation parameters out of bounds".into());
    }
    Ok(l)
}

impl std::fmt::Display for PublicIdentity {
    /// `coffer1…`: bech32m over `sign || kx`, whose checksum catches typos.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut data = [0u8; 64];
        data[..32].copy_from_slice(&self.sign);
        data[32..].copy_from_slice(&self.kx);
        let hrp = bech32::Hrp::parse_unchecked(PUBLIC_ID_HRP);
        match bech32::encode::<bech32::Bech32m>(hrp, &data) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(std::fmt::Error),
        }
    }
}

impl std::str::FromStr for PublicIdentity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (hrp, data) = bech32::decode(s).map_err(|e| {
            Error::BadPublicIdentity(format!("{e} (check for a typo or a truncated copy)"))
        })?;
        if hrp.as_str() != PUBLIC_ID_HRP {
            return Err(Error::BadPublicIdentity(format!(
                "expected a string starting `{PUBLIC_ID_HRP}1`"
            )));
        }
        if s.chars().any(|c| c.is_ascii_uppercase()) || data.len() != 64 {
            return Err(Error::BadPublicIdentity("wrong length or case".into()));
        }
        // A plain bech32 (not bech32m) checksum also decodes; require the m variant.
        let back = PublicIdentity {
            sign: data[..32].try_into().unwrap_or([0; 32]),
            kx: data[32..].try_into().unwrap_or([0; 32]),
        };
        if back.to_string() != s {
            return Err(Error::BadPublicIdentity("not a bech32m checksum".into()));
        }
        Ok(back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_string_round_trips_and_catches_typos() {
        let id = Identity::from_secrets("x", [1; 32], [2; 32]);
        let s = id.public().to_string();
        assert!(s.starts_with("coffer1"));
        assert_eq!(s.parse::<PublicIdentity>().unwrap(), id.public());
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.into_iter().collect();
        assert!(typo.parse::<PublicIdentity>().is_err());
        assert!(s[..s.len() - 1].parse::<PublicIdentity>().is_err());
    }

    #[test]
    fn locked_file_round_trip() {
        let id = Identity::from_secrets("camden", [3; 32], [4; 32]);
        let bytes = id.to_file_bytes(Some("pw")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id");
        std::fs::write(&p, &bytes).unwrap();
        std::env::set_var("COFFER_TEST_PW_OK", "pw");
        std::env::set_var("COFFER_TEST_PW_BAD", "nope");
        let back = Identity::load(&p, &Passphrase::Env("COFFER_TEST_PW_OK".into())).unwrap();
        assert_eq!(back.public(), id.public());
        let err = Identity::load(&p, &Passphrase::Env("COFFER_TEST_PW_BAD".into()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }
}
