//! The tamper matrix: every kind of stored object (version, policy, pack, claim, checkpoint,
//! cosignature) under every mutation (a bit flipped in place, cut short, deleted, junk added
//! beside it), on a folder remote and on a real S3 server, through `verify --remote`, a
//! member's `pull`, a fresh `clone`, `fetch` by an owner already up to date, and `audit` by an
//! auditor with no identity who audited the store before. Each cell must end as the table says,
//! naming the object; never a panic, never a hang, never a silently different history.
//! `cargo test --test tamper -- --nocapture` prints the matrix.

mod util;

use serde_json::Value;
use std::collections::BTreeMap;
use util::s3::{Kind, Server};
use util::{copy_dir, noise, Env};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Object {
    /// The newest version (a head the owner saw; new to the member).
    Version,
    /// The newest policy (seen by the owner; new to the member).
    Policy,
    /// A pack of the newest version (held by the owner; new to the member).
    Pack,
    /// The claim of the last push.
    Claim,
    /// The newest checkpoint (cosigned by the witness).
    Checkpoint,
    /// The witness's cosignature of the newest checkpoint.
    Cosignature,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mutation {
    Flip,
    Truncate,
    Delete,
    /// A garbage object added under the same prefix, named like one.
    Junk,
}

/// What happened in one cell: refused (exit 2 or findings) naming the object, went on and
/// reported it, or went on without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// The command refused, naming the object (or verify reported it as an error).
    Refused,
    /// The command went on and reported it (a warning).
    Reported,
    /// The command went on; it does not read that object (and needs not to).
    NotRead,
}

struct Remote {
    /// The URL the datasets use.
    url: String,
    /// Where objects are, for tampering: a folder, or the S3 server and prefix.
    folder: Option<std::path::PathBuf>,
    server: Option<Server>,
}

impl Remote {
    fn key(&self, name: &str) -> String {
        format!("camden/{name}")
    }
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        match (&self.folder, &self.server) {
            (Some(f), _) => std::fs::read(f.join(name)).ok(),
            (_, Some(s)) => s
                .objects(&self.key(name))
                .into_iter()
                .next()
                .map(|(_, b)| b),
            _ => None,
        }
    }
    fn put(&self, name: &str, bytes: &[u8]) {
        match (&self.folder, &self.server) {
            (Some(f), _) => {
                let p = f.join(name);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, bytes).unwrap()
            }
            (_, Some(s)) => s.put(&self.key(name), bytes),
            _ => {}
        }
    }
    fn delete(&self, name: &str) {
        match (&self.folder, &self.server) {
            (Some(f), _) => {
                let _ = std::fs::remove_file(f.join(name));
            }
            (_, Some(s)) => s.delete(&self.key(name)),
            _ => {}
        }
    }
    fn names(&self, prefix: &str) -> Vec<String> {
        match (&self.folder, &self.server) {
            (Some(f), _) => util::files_under(&f.join(prefix))
                .into_iter()
                .map(|p| p.strip_prefix(f).unwrap().to_string_lossy().into_owned())
                .collect(),
            (_, Some(s)) => s
                .keys(&self.key(prefix))
                .into_iter()
                .map(|k| k.trim_start_matches("camden/").to_string())
                .collect(),
            _ => vec![],
        }
    }
}

/// Camden (owner, up to date), Hackney (reader, one version and one policy behind), and an
/// auditor who is the dataset's witness (quorum 1) and cosigned every checkpoint.
fn world(kind: Option<Kind>) -> (Remote, Env, Env, Env) {
    let camden = Env::named("camden");
    let mut hackney = Env::named("hackney");
    let remote = match kind {
        None => {
            let f = camden.tmp.path().join("bucket");
            Remote {
                url: f.display().to_string(),
                folder: Some(f),
                server: None,
            }
        }
        Some(k) => {
            let s = Server::start(k);
            Remote {
                url: s.url("camden"),
                folder: None,
                server: Some(s),
            }
        }
    };
    let mut camden = camden;
    if let Some(s) = &remote.server {
        camden.vars = s.env();
        hackney.vars = s.env();
    }
    camden.write("a.csv", b"id,places\n1,10\n");
    camden.write("big.bin", &noise(300_000, 1));
    camden.ok(&["init"]);
    camden.ok(&["commit", "-m", "v1"]);
    camden.ok(&["share", "add", &hackney.public(), "--name", "Hackney"]);
    camden.ok(&["remote", "add", "origin", &remote.url]);
    camden.ok(&["push"]);
    hackney.ok(&["clone", &remote.url, "."]);
    let mut auditor = Env::named("auditor");
    auditor.vars = camden.vars.clone();
    let w = format!("witness={}", auditor.public());
    camden.ok(&["share", "audit", "--witness", &w]);
    camden.ok(&["push"]);
    let out = auditor.ok(&["witness", &remote.url]);
    assert!(out.starts_with("cosigned"), "{out}");
    let gla = camden.new_identity("gla");
    camden.ok(&["share", "add", &gla, "--name", "GLA"]);
    camden.write("b.bin", &noise(200_000, 2));
    camden.ok(&["commit", "-m", "v2"]);
    camden.ok(&["push"]);
    assert!(auditor
        .ok(&["witness", &remote.url])
        .starts_with("cosigned"));
    (remote, camden, hackney, auditor)
}

fn head(e: &Env) -> String {
    std::fs::read_to_string(e.data.join(".coffer/refs/main"))
        .unwrap()
        .trim()
        .to_string()
}

/// The name of the object of `kind` to tamper with.
fn target(r: &Remote, camden: &Env, kind: Object) -> String {
    match kind {
        Object::Version => format!("versions/{}", head(camden)),
        Object::Policy => {
            let l: Value = serde_json::from_str(&camden.ok(&["share", "list", "--json"])).unwrap();
            format!("policy/{}", l["policy"].as_str().unwrap())
        }
        Object::Pack => {
            // A pack of v2 that Hackney does not hold.
            let mine: Vec<String> = r.names("packs/");
            let old: std::collections::BTreeSet<String> =
                util::files_under(&camden.tmp.path().join("hackney-packs"))
                    .into_iter()
                    .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                    .collect();
            mine.into_iter()
                .filter(|n| !old.contains(n.rsplit('/').next().unwrap()))
                .min_by_key(|n| r.get(n).map(|b| b.len()).unwrap_or(usize::MAX))
                .unwrap()
        }
        Object::Claim => r.names("claims/").into_iter().max().unwrap(),
        Object::Checkpoint => format!("checkpoints/{}", newest_checkpoint(camden)),
        Object::Cosignature => {
            let c = newest_checkpoint(camden);
            let raw: Vec<u8> = (0..32)
                .map(|i| u8::from_str_radix(&c[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            r.names("cosignatures/")
                .into_iter()
                .find(|n| r.get(n).unwrap().windows(32).any(|w| w == raw.as_slice()))
                .unwrap()
        }
    }
}

/// The newest checkpoint with its quorum, as the owner's verify --remote sees it.
fn newest_checkpoint(camden: &Env) -> String {
    let v: Value =
        serde_json::from_str(&camden.ok(&["verify", "--remote", "origin", "--json"])).unwrap();
    v["fresh"]["id"].as_str().unwrap().to_string()
}

fn id_of(name: &str) -> &str {
    name.rsplit('/').next().unwrap()
}

/// Run `args` as `e`; (exit code, stdout, stderr).
fn run(e: &Env, args: &[&str]) -> (i32, String, String) {
    let out = e.coffer(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a report's findings say about `id`: an error, a warning, or nothing.
fn level_of(out: &str, err: &str, id: &str) -> Seen {
    let short = &id[..12];
    let r: Value = serde_json::from_str(out).unwrap_or_else(|_| panic!("{err}"));
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["id"].as_str() == Some(id) || f["message"].as_str().unwrap_or("").contains(short)
        })
        .map(|f| f["level"].as_str().unwrap().to_string())
        .min_by_key(|l| match l.as_str() {
            "error" => 0,
            "warning" => 1,
            _ => 2,
        });
    match f.as_deref() {
        Some("error") => Seen::Refused,
        Some("warning") => Seen::Reported,
        _ => Seen::NotRead,
    }
}

/// One cell: apply `m` to `kind`, run the five paths, restore. Returns what each saw.
fn cell(
    r: &Remote,
    (camden, hackney, auditor): (&Env, &Env, &Env),
    kind: Object,
    m: Mutation,
) -> [Seen; 5] {
    let name = target(r, camden, kind);
    let original = r.get(&name).unwrap();
    let junk_name = format!("{}/{}", name.split('/').next().unwrap(), "ef".repeat(32));
    let changed = match m {
        Mutation::Flip => {
            let mut b = original.clone();
            let n = b.len() / 2;
            b[n] ^= 1;
            r.put(&name, &b);
            &name
        }
        Mutation::Truncate => {
            r.put(&name, &original[..original.len() / 2]);
            &name
        }
        Mutation::Delete => {
            r.delete(&name);
            &name
        }
        Mutation::Junk => {
            r.put(&junk_name, b"junk planted beside the real objects");
            &junk_name
        }
    };
    let id = id_of(changed).to_string();
    let short = &id[..12];
    let saved = hackney.tmp.path().join("saved");
    let _ = std::fs::remove_dir_all(&saved);
    copy_dir(&hackney.data, &saved);

    // 1. verify --remote, by the owner.
    let (code, out, err) = run(camden, &["verify", "--remote", "origin", "--json"]);
    let v = if code == 2 {
        assert!(
            err.contains(short) || err.contains("missing"),
            "{kind:?} {m:?} verify: {err}"
        );
        Seen::Refused
    } else {
        level_of(&out, &err, &id)
    };
    // 2. pull, by the member one version behind: refused and unchanged, or went on.
    let before = head(hackney);
    let (code, _, err) = run(hackney, &["pull"]);
    let p = if code == 2 {
        assert!(
            err.contains(short) || err.contains("missing") || err.contains("does not hash"),
            "{kind:?} {m:?} pull: {err}"
        );
        assert_eq!(
            head(hackney),
            before,
            "{kind:?} {m:?}: a refused pull moved the head"
        );
        Seen::Refused
    } else if err.contains(short) {
        Seen::Reported
    } else {
        Seen::NotRead
    };
    // 3. a fresh clone.
    let fresh = hackney.tmp.path().join("fresh");
    let _ = std::fs::remove_dir_all(&fresh);
    let (code, _, err) = run(hackney, &["clone", &r.url, fresh.to_str().unwrap()]);
    let c = if code == 2 {
        assert!(
            err.contains(short)
                || err.contains("missing")
                || err.contains("does not hash")
                || err.contains("no valid dataset"),
            "{kind:?} {m:?} clone: {err}"
        );
        Seen::Refused
    } else if err.contains(short) {
        Seen::Reported
    } else {
        Seen::NotRead
    };
    // 4. fetch, by the owner who is up to date.
    let (code, _, err) = run(camden, &["fetch"]);
    let f = if code == 2 {
        assert!(
            err.contains(short) || err.contains("missing"),
            "{kind:?} {m:?} fetch: {err}"
        );
        Seen::Refused
    } else if err.contains(short) {
        Seen::Reported
    } else {
        Seen::NotRead
    };
    // 5. audit, by the auditor (no identity used), who audited the store before.
    let (code, out, err) = run(auditor, &["audit", &r.url, "--json"]);
    let a = if code == 2 {
        assert!(
            err.contains(short) || err.contains("missing") || err.contains("no valid dataset"),
            "{kind:?} {m:?} audit: {err}"
        );
        Seen::Refused
    } else {
        level_of(&out, &err, &id)
    };
    // Restore the remote and the member.
    if m == Mutation::Junk {
        r.delete(&junk_name);
    } else {
        r.put(&name, &original);
    }
    let _ = std::fs::remove_dir_all(&hackney.data);
    copy_dir(&saved, &hackney.data);
    let (code, _, err) = run(camden, &["verify", "--remote", "origin"]);
    assert_eq!(code, 0, "{kind:?} {m:?}: not restored: {err}");
    [v, p, c, f, a]
}

const OBJECTS: [Object; 6] = [
    Object::Version,
    Object::Policy,
    Object::Pack,
    Object::Claim,
    Object::Checkpoint,
    Object::Cosignature,
];
const MUTATIONS: [Mutation; 4] = [
    Mutation::Flip,
    Mutation::Truncate,
    Mutation::Delete,
    Mutation::Junk,
];

/// What each cell must show: `[verify --remote, pull, clone, fetch by the owner, audit]`.
/// The auditor saw everything before, so what it saw and is gone or altered is a rollback.
fn expected(kind: Object, m: Mutation) -> [Seen; 5] {
    use Seen::*;
    match (kind, m) {
        // Junk beside real objects: reported by verify and audit, and by readers that list
        // that prefix (policies, versions, the newest checkpoints and cosignatures), never in
        // anyone's way. Readers do not read claims, nor packs no version needs.
        (Object::Claim | Object::Pack, Mutation::Junk) => {
            [Reported, NotRead, NotRead, NotRead, Reported]
        }
        (_, Mutation::Junk) => [Reported, Reported, Reported, Reported, Reported],
        // The newest version altered: the owner and the auditor saw it, so verify --remote,
        // fetch and audit call it damage; to the member and a newcomer it is new junk,
        // ignored and reported. Deleted: the newest checkpoint names it, so they are told
        // the store shows them less than it showed its signer (a split view).
        (Object::Version, _) => [Refused, Reported, Reported, Refused, Refused],
        // The newest policy altered or deleted: the same for the owner and the auditor; for
        // the others the chain ends before it and the version made under it is refused,
        // reported.
        (Object::Policy, _) => [Refused, Reported, Reported, Refused, Refused],
        // A pack the member needs: refused by name (a version that is history and whose
        // pack is damaged is damage); the owner holds the pack, so its fetch does not read
        // it, and verify --remote and audit do.
        (Object::Pack, _) => [Refused, Refused, Refused, NotRead, Refused],
        // An old claim: verify and audit report damage to it; nobody else reads it.
        (Object::Claim, Mutation::Delete) => [NotRead, NotRead, NotRead, NotRead, NotRead],
        (Object::Claim, _) => [Reported, NotRead, NotRead, NotRead, Reported],
        // The newest checkpoint altered: junk, reported by everyone who reads checkpoints;
        // deleted: its cosignature now vouches for nothing, reported. Either way freshness
        // falls back to the checkpoint before, still fresh. The auditor remembers it: gone
        // since the last audit is a rollback.
        (Object::Checkpoint, _) => [Reported, Reported, Reported, Reported, Refused],
        // The witness's cosignature altered: junk, reported; deleted: the newest checkpoint
        // just awaits its quorum (information), and freshness falls back to the one before.
        (Object::Cosignature, Mutation::Delete) => [NotRead, NotRead, NotRead, NotRead, NotRead],
        (Object::Cosignature, _) => [Reported, Reported, Reported, Reported, Reported],
    }
}

fn matrix(kind: Option<Kind>) {
    let (r, camden, hackney, auditor) = world(kind);
    // The auditor's first audit: what it will remember.
    let (code, out, err) = run(&auditor, &["audit", &r.url, "--json"]);
    assert_eq!(code, 0, "first audit: {out} {err}");
    // What Hackney holds, to find the packs new to it.
    copy_dir(
        &hackney.store().join("packs"),
        &camden.tmp.path().join("hackney-packs"),
    );
    let mut table: BTreeMap<(Object, Mutation), [Seen; 5]> = BTreeMap::new();
    let mut wrong = Vec::new();
    for kind_ in OBJECTS {
        for m in MUTATIONS {
            let got = cell(&r, (&camden, &hackney, &auditor), kind_, m);
            if got != expected(kind_, m) {
                wrong.push(format!(
                    "{kind_:?} {m:?}: got {got:?}, expected {:?}",
                    expected(kind_, m)
                ));
            }
            table.insert((kind_, m), got);
        }
    }
    println!(
        "tamper matrix on {}: [verify --remote, pull, clone, fetch by owner, audit]",
        kind.map(|k| format!("{k:?}")).unwrap_or("a folder".into())
    );
    for ((o, m), s) in &table {
        println!("  {o:?} {m:?}: {s:?}");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn tamper_matrix_on_a_folder() {
    matrix(None);
}

#[test]
fn tamper_matrix_on_moto() {
    matrix(Some(Kind::Moto));
}
