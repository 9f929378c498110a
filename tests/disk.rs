//! A full disk during commit: a clear error, the previous version intact, nothing visible
//! half-written. Uses a real 8 MiB tmpfs (needs root, as CI runs).

mod util;

use util::*;

struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_during_commit_keeps_the_previous_version() {
    let e = Env::new();
    let small = e.tmp.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&small)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        // Never silently green: without root this fails, unless the documented opt-out is set.
        assert!(
            !euid_is_root(),
            "running as root but could not mount a tmpfs: the full-disk test cannot run"
        );
        assert!(
            std::env::var("COFFER_SKIP_ROOT_TESTS").is_ok_and(|v| v == "1"),
            "the full-disk test mounts a tmpfs and needs root (CI runs as root); run the suite \
             as root, or set COFFER_SKIP_ROOT_TESTS=1 to skip it knowingly (see README)"
        );
        eprintln!(
            "SKIPPED (COFFER_SKIP_ROOT_TESTS=1) full_disk_during_commit_keeps_the_previous_version"
        );
        return;
    }
    let _m = Mount(small.clone());
    let data = small.join("data");
    std::fs::create_dir(&data).unwrap();
    let run = |args: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("coffer").unwrap();
        c.env("COFFER_IDENTITY", &e.id)
            .current_dir(&data)
            .args(args);
        c.output().unwrap()
    };
    std::fs::write(data.join("a.csv"), b"one\n").unwrap();
    assert!(run(&["init"]).status.success());
    assert!(run(&["commit", "-m", "v1"]).status.success());
    // 5 MiB of incompressible data cannot be stored next to itself in 8 MiB.
    std::fs::write(data.join("big.bin"), noise(5 << 20, 5)).unwrap();
    let out = run(&["commit", "-m", "v2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("No space left on device") && err.contains("store"),
        "{err}"
    );
    std::fs::remove_file(data.join("big.bin")).unwrap();
    let log = String::from_utf8(run(&["log", "--json"]).stdout).unwrap();
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    assert_eq!(
        log.as_array().unwrap().len(),
        1,
        "the failed commit left a version"
    );
    let v = run(&["verify"]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    std::fs::write(data.join("b.csv"), b"two\n").unwrap();
    assert!(run(&["commit", "-m", "v2 after freeing space"])
        .status
        .success());
}

/// Whether this process runs as root: `/proc/self` belongs to the effective user (no
/// external command that could be missing).
fn euid_is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// An unreadable file: commit fails naming it, nothing is half-written, the previous version
/// stays. Root reads everything, so as root the binary runs as `nobody` (via setpriv); as
/// anyone else it runs as itself. It runs either way: no skip.
#[test]
fn unreadable_file_fails_commit_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let root = euid_is_root();
    let e = Env::new();
    e.write("a.csv", b"one\n");
    if root {
        for p in walkdir::WalkDir::new(e.tmp.path()) {
            let p = p.unwrap();
            std::os::unix::fs::chown(p.path(), Some(65534), Some(65534)).unwrap();
        }
        std::fs::set_permissions(e.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("coffer");
    let as_nobody = |args: &[&str]| {
        let mut c = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&bin);
            c
        } else {
            std::process::Command::new(&bin)
        };
        c.args(args)
            .env("COFFER_IDENTITY", &e.id)
            .current_dir(&e.data)
            .output()
            .unwrap()
    };
    assert!(as_nobody(&["init"]).status.success());
    assert!(as_nobody(&["commit", "-m", "v1"]).status.success());
    e.write("private/secret.csv", b"cannot read me\n");
    if root {
        for p in ["private", "private/secret.csv"] {
            std::os::unix::fs::chown(e.data.join(p), Some(65534), Some(65534)).unwrap();
        }
    }
    std::fs::set_permissions(
        e.data.join("private/secret.csv"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let out = as_nobody(&["commit", "-m", "v2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("private/secret.csv") && err.contains("Permission denied"),
        "{err}"
    );
    let log: serde_json::Value =
        serde_json::from_slice(&as_nobody(&["log", "--json"]).stdout).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
    let v = as_nobody(&["verify"]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
}
