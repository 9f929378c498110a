//! Test helpers: a fresh temp folder per test, the real `coffer` binary, file builders.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub mod forge;
pub mod s3;

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub id: PathBuf,
    pub data: PathBuf,
    /// Extra environment for every command (an S3 server's endpoint and credentials).
    pub vars: Vec<(String, String)>,
}

impl Env {
    /// A copy of `src` (another env's temp folder) as a new env: same identities and data.
    pub fn copy_of(src: &Path, me: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(src, tmp.path());
        Env {
            id: tmp.path().join(format!("{me}.id")),
            data: tmp.path().join("data"),
            tmp,
            vars: Vec::new(),
        }
    }

    /// Make another identity `name` in this env's folder (`NAME.id`); returns its public
    /// identity string.
    pub fn new_identity(&self, name: &str) -> String {
        let path = self.tmp.path().join(format!("{name}.id"));
        self.ok(&["id", "new", "--name", name, "--out", path.to_str().unwrap()])
            .trim()
            .to_string()
    }

    /// The public identity string of `NAME.id` in this env's folder.
    pub fn public_of(&self, name: &str) -> String {
        let out = self.as_(name, &["id", "show"]);
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .lines()
            .last()
            .unwrap()
            .to_string()
    }

    /// `coffer ARGS` as identity `NAME.id` of this env.
    pub fn as_(&self, name: &str, args: &[&str]) -> std::process::Output {
        self.coffer(args)
            .env(
                "COFFER_IDENTITY",
                self.tmp.path().join(format!("{name}.id")),
            )
            .output()
            .unwrap()
    }

    /// A temp folder with an identity "camden" and an empty `data/` folder.
    pub fn new() -> Env {
        Env::named("camden")
    }

    /// A temp folder (one organisation's machine) with an identity `name` and an empty
    /// `data/` folder.
    pub fn named(name: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let id = tmp.path().join(format!("{name}.id"));
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let e = Env {
            tmp,
            id,
            data,
            vars: Vec::new(),
        };
        e.coffer(&["id", "new", "--name", name, "--out"])
            .arg(&e.id)
            .assert()
            .success();
        e
    }

    /// `coffer ARGS` with this env's identity, run in `data/`.
    pub fn coffer(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("coffer").unwrap();
        c.env("COFFER_IDENTITY", &self.id)
            .env("XDG_CONFIG_HOME", self.tmp.path().join("config"))
            .env_remove("COFFER_PASSPHRASE")
            .current_dir(&self.data)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .args(args);
        c
    }

    /// `coffer ARGS` as a plain process with this env's settings, to spawn and kill.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("coffer"))
            .env("COFFER_IDENTITY", &self.id)
            .env("XDG_CONFIG_HOME", self.tmp.path().join("config"))
            .env_remove("COFFER_PASSPHRASE")
            .current_dir(&self.data)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `coffer ARGS` run until it reaches pause point `point` (src/testhook.rs, debug builds),
    /// where it waits to be killed. Fails if it ends first or takes over two minutes.
    pub fn spawn_paused(&self, args: &[&str], point: &str) -> std::process::Child {
        self.spawn_at(args, point, false).0
    }

    /// [`Env::spawn_paused`], but the process goes on when the returned file is deleted
    /// (`COFFER_TEST_PAUSE_RESUME`): a race made exact.
    pub fn spawn_resumable(
        &self,
        args: &[&str],
        point: &str,
    ) -> (std::process::Child, std::path::PathBuf) {
        self.spawn_at(args, point, true)
    }

    fn spawn_at(
        &self,
        args: &[&str],
        point: &str,
        resume: bool,
    ) -> (std::process::Child, std::path::PathBuf) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let flag = self.tmp.path().join(format!("paused-{n}"));
        let log = self.tmp.path().join(format!("paused-{n}.stderr"));
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coffer"))
            .env("COFFER_IDENTITY", &self.id)
            .env("XDG_CONFIG_HOME", self.tmp.path().join("config"))
            .env_remove("COFFER_PASSPHRASE")
            .env("COFFER_TEST_PAUSE_AT", point)
            .env("COFFER_TEST_PAUSE_FILE", &flag)
            .envs(resume.then_some(("COFFER_TEST_PAUSE_RESUME", "1")))
            .current_dir(&self.data)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(log.with_extension("stdout")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        loop {
            if flag.exists() {
                return (child, flag);
            }
            if let Some(st) = child.try_wait().unwrap() {
                panic!(
                    "coffer {args:?} ended ({st}) before reaching pause point {point}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if t.elapsed() > std::time::Duration::from_secs(120) {
                let _ = child.kill();
                panic!("coffer {args:?} did not reach pause point {point} within 120 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// This identity's public string.
    pub fn public(&self) -> String {
        self.ok(&["id", "show"])
            .trim()
            .lines()
            .last()
            .unwrap()
            .to_string()
    }

    /// Run and return stdout, asserting success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.coffer(args).output().unwrap();
        assert!(
            out.status.success(),
            "coffer {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run, expect exit `code`, return stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.coffer(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "coffer {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.data.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    pub fn store(&self) -> PathBuf {
        self.data.join(".coffer/store")
    }

    /// Paths of all packs in the store.
    pub fn packs(&self) -> Vec<PathBuf> {
        files_under(&self.store().join("packs"))
    }
}

/// Copy a folder tree (files, folders and links).
/// SIGKILL (no destructor, no cleanup: a power cut) a process that must still be running:
/// a kill that comes after the end proves nothing, so that fails the test.
pub fn kill9_running(c: &mut std::process::Child) {
    assert!(
        c.try_wait().unwrap().is_none(),
        "the process had ended before the kill"
    );
    c.kill().unwrap();
    c.wait().unwrap();
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in walkdir::WalkDir::new(src).min_depth(1) {
        let e = e.unwrap();
        let to = dst.join(e.path().strip_prefix(src).unwrap());
        let ft = e.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

/// Everything under `dir`, links not followed: each path (relative) with its kind (`f` file,
/// `d` folder, `l -> TARGET` link), skipping `.coffer/` folders (caches may change).
pub fn everything_under(dir: &Path) -> std::collections::BTreeSet<(String, String)> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".coffer")
        .filter_map(|e| e.ok())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            let t = e.file_type();
            let kind = if t.is_symlink() {
                format!("l -> {}", std::fs::read_link(e.path()).unwrap().display())
            } else if t.is_dir() {
                "d".into()
            } else {
                "f".into()
            };
            (rel, kind)
        })
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift64, eight bytes a step), incompressible.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Every file, link and folder below `dir` (excluding `.coffer`), with contents and modes.
pub fn snapshot(dir: &Path) -> Vec<(String, String, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut v = Vec::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == ".coffer" || rel.starts_with(".coffer/") {
            continue;
        }
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        let (kind, body) = if m.file_type().is_symlink() {
            (
                "link".to_string(),
                std::fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes(),
            )
        } else if m.is_dir() {
            ("dir".to_string(), vec![])
        } else {
            (
                format!("file exec={}", m.permissions().mode() & 0o111 != 0),
                std::fs::read(e.path()).unwrap(),
            )
        };
        v.push((rel, kind, body));
    }
    v
}

/// Set a file's mtime to an hour ago, so the stat cache's racy-clean guard does not apply.
///
/// Its ctime stays now: call [`settle`] once before a commit whose cache hits a test counts.
pub fn age(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
}

/// Wait out the stat cache's racy window (100 ms) for files just written: their ctime is
/// fresh whatever their mtime.
pub fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(250));
}

/// Debian's Chromium, installed on first use (as the S3 tests install their servers): the
/// HTML report is checked in a real browser. Fails loudly when it cannot be installed.
pub fn chromium() -> PathBuf {
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = ONCE.lock().unwrap_or_else(|p| p.into_inner());
    let bin = PathBuf::from("/usr/bin/chromium");
    if bin.exists() {
        return bin;
    }
    let sh = |cmd: &str| {
        std::process::Command::new("sh")
            .args(["-c", cmd])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{cmd}`: {e}"))
    };
    let update = sh("apt-get update -qq");
    let install = sh("apt-get install -y -qq chromium");
    assert!(
        install.status.success() && bin.exists(),
        "installing Debian's chromium failed (needed to check the HTML report; run as root or install the package `chromium`): {}{}",
        String::from_utf8_lossy(&update.stderr),
        String::from_utf8_lossy(&install.stderr)
    );
    bin
}

/// The DOM of a local HTML file after headless Chromium loaded it (scripts, if any, run).
pub fn render_html(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
