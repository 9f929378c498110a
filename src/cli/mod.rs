//! The command-line layer: clap arguments in, library calls, text or JSON out.

pub mod args;
mod output;
mod remote;

pub use args::Cli;
use args::{Command, IdCommand, ShareCommand};
use coffer::diff;
use coffer::error::{Error, Result};
use coffer::history;
use coffer::identity::{Identity, Passphrase};
use coffer::repo::checkout::{self, CheckoutOptions};
use coffer::repo::commit::{self, CommitOptions};
use coffer::repo::index::Index;
use coffer::repo::read::VersionReader;
use coffer::repo::scan::Leftovers;
use coffer::repo::worktree::WorkingWalk;
use coffer::repo::{Dataset, Keyring};
use coffer::rules::History;
use coffer::verify;
use output::{human_bytes, print_json};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Exit status of a command that ran.
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: verification found problems.
    Findings,
}

pub(crate) struct Ctx {
    cli: Cli,
}

/// Where the identity lives when neither --identity nor $COFFER_IDENTITY says
/// (`$XDG_CONFIG_HOME/coffer/identity`, else `~/.config/coffer/identity`).
fn default_identity() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("coffer").join("identity"))
}

/// Parse the command line, with help texts that show this machine's real default paths.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let path = default_identity()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "none: no config folder".into());
    let cmd = Cli::command()
        .mut_arg("identity", |a| {
            a.help(format!("Identity file to use [default: {path}]"))
        })
        .mut_subcommand("id", |c| {
            c.mut_subcommand("new", |c| {
                c.mut_arg("out", |a| {
                    a.help(format!(
                        "Where to write it [default: --identity, $COFFER_IDENTITY, else {path}]"
                    ))
                })
            })
        });
    Cli::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit())
}

impl Ctx {
    fn dir(&self) -> PathBuf {
        self.cli.dir.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    fn identity_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.cli.identity {
            return Ok(p.clone());
        }
        default_identity()
            .ok_or_else(|| Error::Usage("no config folder; pass --identity PATH".into()))
    }

    fn passphrase(&self) -> Passphrase {
        match &self.cli.passphrase_env {
            Some(v) => Passphrase::Env(v.clone()),
            None => Passphrase::None,
        }
    }

    pub(crate) fn identity(&self) -> Result<Identity> {
        Identity::load(&self.identity_path()?, &self.passphrase())
    }

    pub(crate) fn dataset(&self) -> Result<Dataset> {
        Dataset::find(&self.dir())
    }

    pub(crate) fn progress(&self) -> bool {
        !self.cli.quiet && std::io::stderr().is_terminal()
    }

    pub(crate) fn say(&self, msg: impl AsRef<str>) {
        if !self.cli.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

/// The dataset's judged history and the caller's keys for it.
pub(crate) fn open_keys(ds: &Dataset, identity: &Identity) -> Result<(History, Keyring)> {
    let hist = ds.history()?;
    let keys = ds.keyring(&hist.chain, identity)?;
    Ok((hist, keys))
}

fn open_version<'a>(
    ds: &'a Dataset,
    hist: &History,
    keys: &'a Keyring,
    index: &mut Index,
    rev: &str,
) -> Result<VersionReader<'a>> {
    let id = history::resolve(ds, hist, rev)?;
    VersionReader::open(ds, hist, keys, index, id)
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    let ctx = Ctx { cli };
    match &ctx.cli.command {
        Command::Id(IdCommand::New {
            name,
            out,
            passphrase,
            json,
        }) => {
            let path = match out {
                Some(p) => p.clone(),
                None => ctx.identity_path()?,
            };
            let pass = match (passphrase, &ctx.cli.passphrase_env) {
                (_, Some(v)) => Passphrase::Env(v.clone()),
                (true, None) => Passphrase::Prompt,
                (false, None) => Passphrase::None,
            };
            let id = Identity::generate(name);
            id.save(&path, &pass)?;
            if *json {
                print_json(&serde_json::json!({
                    "name": name,
                    "public": id.public().to_string(),
                    "path": path,
                }));
                return Ok(Outcome::Ok);
            }
            ctx.say(format!(
                "wrote identity {name:?} to {} (keep it secret; back it up)",
                path.display()
            ));
            ctx.say("your public identity, to give to others:");
            println!("{}", id.public());
        }
        Command::Id(IdCommand::Show(a)) => {
            let path = ctx.identity_path()?;
            let id = ctx.identity()?;
            if a.json {
                print_json(&serde_json::json!({
                    "name": id.name,
                    "public": id.public().to_string(),
                    "path": path,
                }));
            } else {
                ctx.say(format!("identity {:?} ({})", id.name, path.display()));
                println!("{}", id.public());
            }
        }
        Command::Init { name, json } => {
            let id = ctx.identity()?;
            let ds = Dataset::init(&ctx.dir(), &id, name.as_deref())?;
            if *json {
                let hist = ds.history()?;
                print_json(&serde_json::json!({
                    "dataset": ds.id,
                    "name": hist.chain.tip().1.name,
                    "root": ds.root,
                    "owner": id.name,
                }));
                return Ok(Outcome::Ok);
            }
            ctx.say(format!(
                "initialised dataset in {}, owned by {:?}",
                ds.root.display(),
                id.name
            ));
            println!("dataset id {}", ds.id);
        }
        Command::Commit {
            message,
            allow_empty,
            json,
        } => {
            let ds = ctx.dataset()?;
            let id = ctx.identity()?;
            let opts = CommitOptions {
                message: message.clone(),
                allow_empty: *allow_empty,
                progress: ctx.progress(),
            };
            let o = commit::commit(&ds, &id, &opts)?;
            for s in &o.skipped {
                ctx.say(format!("warning: skipped {s}: not a file, folder or link"));
            }
            if *json {
                print_json(&o);
            } else {
                match o.version {
                    Some(v) => println!(
                        "version {} (seq {}) by {}: {} files, {}; read {}, stored {} in {} new pack(s)",
                        v.short(),
                        o.seq,
                        o.author,
                        o.files,
                        human_bytes(o.bytes),
                        human_bytes(o.bytes_read),
                        human_bytes(o.bytes_written),
                        o.packs_written
                    ),
                    None => println!("nothing changed since the last version; no version made (--allow-empty makes one)"),
                }
            }
        }
        Command::Status { json } => {
            let ds = ctx.dataset()?;
            let id = ctx.identity()?;
            let (hist, keys) = open_keys(&ds, &id)?;
            let mut index = Index::load(&ds, &keys)?;
            let head = match ds.head()? {
                Some(_) => Some(open_version(&ds, &hist, &keys, &mut index, "HEAD")?),
                None => None,
            };
            // Any epoch's keys hash files alike (blob ids come from the dataset's dedup key):
            // a member withdrawn since can still see what changed in its folder.
            let hk = keys
                .current()
                .or_else(|| keys.epochs.values().last())
                .ok_or(Error::NoVersions)?;
            let scope = ds.partial().unwrap_or_default();
            let head: diff::Stream = match &head {
                Some(r) => r.stream(&scope)?,
                None => Box::new(std::iter::empty()),
            };
            let changes = diff::diff_streams(
                head,
                Box::new(WorkingWalk::new(&ds, hk, &index, Leftovers::Skip)?),
            )?;
            if ds.clone_pending() {
                ctx.say(format!("note: {}", coffer::repo::CLONE_PENDING_HINT));
            }
            if *json {
                print_json(&changes);
            } else if changes.is_empty() {
                println!("clean: the folder matches the last version");
            } else {
                output::print_changes(&changes);
            }
        }
        Command::Log { json, max_count } => {
            let ds = ctx.dataset()?;
            let hist = ds.history()?;
            let chain = &hist.chain;
            let keys = ctx.identity().ok().and_then(|i| ds.keyring(chain, &i).ok());
            let Some(head) = ds.head()? else {
                if *json {
                    print_json(&Vec::<()>::new());
                    return Ok(Outcome::Ok);
                }
                return Err(Error::NoVersions);
            };
            let mut entries = history::log(&hist, &head)?;
            if let Some(n) = max_count {
                entries.truncate(*n);
            }
            let rows: Vec<output::LogRow> = entries
                .iter()
                .map(|(id, v)| output::LogRow::new(id, v, chain, keys.as_ref()))
                .collect();
            if *json {
                print_json(&rows);
            } else {
                output::print_log(&rows);
            }
        }
        Command::Show { version, json } => {
            let ds = ctx.dataset()?;
            let id = ctx.identity()?;
            let (hist, keys) = open_keys(&ds, &id)?;
            let vid = history::resolve(&ds, &hist, version)?;
            let mut index = Index::load(&ds, &keys)?;
            let r = VersionReader::open(&ds, &hist, &keys, &mut index, vid)?;
            let row = output::LogRow::new(&vid, &r.version, &hist.chain, Some(&keys));
            let flat = r.flatten()?;
            output::print_show(&row, &flat, *json);
        }
        Command::Diff {
            a,
            b,
            paths,
            rows: true,
            key,
            limit,
            json,
        } => {
            let ds = ctx.dataset()?;
            let id = ctx.identity()?;
            let (hist, keys) = open_keys(&ds, &id)?;
            let va = history::resolve(&ds, &hist, a.as_deref().unwrap_or("HEAD"))?;
            let vb = match b {
                Some(b) => Some(history::resolve(&ds, &hist, b)?),
                None => None,
            };
            let key: Vec<String> = key
                .as_deref()
                .map(|k| k.split(',').map(|c| c.trim().to_string()).collect())
                .unwrap_or_default();
            let results = coffer::rowdiff::versions(&ds, &hist, &keys, va, vb, &key, paths)?;
            if *json {
                print_json(&results);
            } else {
                output::print_row_diffs(&results, *limit);
            }
            if results.iter().any(|r| r.error.is_some()) {
                return Ok(Outcome::Findings);
            }
        }
        Command::Diff { a, b, json, .. } => {
            let ds = ctx.dataset()?;
            let id = ctx.identity()?;
            let (hist, keys) = open_keys(&ds, &id)?;
            let mut index = Index::load(&ds, &keys)?;
            let left = open_version(
                &ds,
                &hist,
                &keys,
                &mut index,
                a.as_deref().unwrap_or("HEAD"),
            )?;
            let right = match b {
                Some(b) => Some(open_version(&ds, &hist, &keys, &mut index, b)?),
                None => None,
            };
            let right: diff::Stream = match &right {
                Some(r) => r.stream("")?,
                None => Box::new(WorkingWalk::new(
                    &ds,
                    keys.current().ok_or(Error::NoVersions)?,
                    &index,
                    Leftovers::Skip,
                )?),
            };
            let changes = diff::diff_streams(left.stream("")?, right)?;
            if *json {
                print_json(&changes);
            } else if changes.is_empty() {
                println!("no differences");
            } else {
                output::print_changes(&changes);
            }
        }
        Command::Checkout {
            version,
            to,
            force,
            json,
        } => {
            let ds = ctx.dataset()?;
            let id = ctx.identity()?;
            let (hist, keys) = open_keys(&ds, &id)?;
            let vid = history::resolve(&ds, &hist, version)?;
            let opts = CheckoutOptions {
                target: to.clone(),
                force: *force,
                progress: ctx.progress(),
                keep_differing: false,
            };
            let o = checkout::checkout(&ds, &hist, &keys, vid, &opts)?;
            if *json {
                let mut v = serde_json::to_value(&o).unwrap_or_default();
                v["version"] = serde_json::json!(vid);
                print_json(&v);
                return Ok(Outcome::Ok);
            }
            println!(
                "checked out {} into {}: {} file(s) written ({}), {} already matched, {} removed",
                vid.short(),
                o.target.display(),
                o.files_written,
                human_bytes(o.bytes_written),
                o.unchanged,
                o.removed
            );
        }
        Command::Share(sc) => share(&ctx, sc)?,
        Command::Access { json } => {
            let ds = ctx.dataset()?;
            let a = coffer::sharing::access::history(&ds)?;
            if *json {
                print_json(&a);
            } else {
                output::print_access(&a);
            }
        }
        Command::Clone {
            source,
            dir,
            into,
            expect_id,
            path,
            json,
        } => {
            use coffer::repo::clone::{self, CloneOptions};
            let id = ctx.identity()?;
            let mut expect_id = match expect_id {
                Some(s) => Some(coffer::Id::from_hex(s.trim()).ok_or_else(|| {
                    Error::Usage(format!("--expect-id {s}: not a dataset id (64 hex digits)"))
                })?),
                None => None,
            };
            // `clone HUB NAME-OR-ID DIR`: the dataset found in the hub, its id pinned.
            let (source, dir) = match into {
                None => (source.clone(), dir.clone()),
                Some(target) => {
                    let which = dir.to_string_lossy();
                    let d = coffer::hub::resolve(source, &which)?;
                    let Some(found) = d.id else {
                        return Err(Error::Usage(format!(
                            "{which:?} under {source} cannot be cloned: {}",
                            d.problem.unwrap_or_default()
                        )));
                    };
                    if expect_id.is_some_and(|e| e != found) {
                        return Err(Error::Usage(format!(
                            "{which:?} under {source} is dataset {found}, not the --expect-id given"
                        )));
                    }
                    expect_id = Some(found);
                    ctx.say(format!(
                        "{which:?} is dataset {found} at {}, owned by {}: pinned",
                        d.url,
                        d.owners.join(", ")
                    ));
                    (d.url, target.clone())
                }
            };
            let source = &source;
            let dir = &dir;
            let opts = CloneOptions {
                source: source.clone(),
                target: dir.clone(),
                expect_id,
                known: dirs::config_dir().map(|d| d.join("coffer").join("known-datasets.json")),
                progress: ctx.progress(),
                path: path.clone(),
            };
            let o = clone::clone(&id, &opts)?;
            for (what, list) in [("version", &o.refused), ("policy", &o.refused_policies)] {
                for (i, r) in list {
                    ctx.say(format!(
                        "warning: ignored {what} {} in {source}: {} (rule {})",
                        i.short(),
                        r.message,
                        r.rule
                    ));
                }
            }
            for line in &o.checkpoints {
                ctx.say(format!("warning: {source}: {line}"));
            }
            if *json {
                print_json(&o);
                return Ok(Outcome::Ok);
            }
            if o.first_use && opts.expect_id.is_none() {
                ctx.say(format!(
                    "first clone from {source}: remembering dataset {} (pin it with --expect-id)",
                    o.dataset
                ));
            }
            match (&o.head, &o.checkout) {
                (Some(h), Some(c)) => println!(
                    "cloned dataset {} into {}: {} objects ({}), checked out {} ({} files)",
                    o.dataset,
                    dir.display(),
                    o.objects,
                    human_bytes(o.bytes),
                    h.short(),
                    c.files_written
                ),
                _ => println!(
                    "cloned dataset {} into {}: no versions yet",
                    o.dataset,
                    dir.display()
                ),
            }
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "coffer", &mut std::io::stdout());
        }
        Command::Man => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Error::Usage(format!("cannot render the manual page: {e}")))?;
            // One page: then each command's synopsis, description and options.
            for sub in Cli::command().get_subcommands() {
                let name = format!("coffer {}", sub.get_name());
                out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
                let page = clap_mangen::Man::new(sub.clone().bin_name(name));
                let _ = page.render_synopsis_section(&mut out);
                let _ = page.render_description_section(&mut out);
                let _ = page.render_options_section(&mut out);
            }
            std::io::Write::write_all(&mut std::io::stdout(), &out)
                .map_err(|e| Error::Usage(format!("cannot write the manual page: {e}")))?;
        }
        Command::List { source, json } => {
            let me = match ctx.identity() {
                Ok(i) => Some(i.public()),
                Err(Error::NoIdentity { .. }) => None,
                Err(e) => return Err(e),
            };
            let hub = coffer::hub::list(source, me.as_ref())?;
            if *json {
                print_json(&hub);
            } else {
                output::print_hub(&hub);
            }
        }
        Command::Remote(rc) => remote::remote(&ctx, rc)?,
        Command::Push { remote: r, json } => remote::push(&ctx, r.as_deref(), *json)?,
        Command::Fetch { remote: r, json } => remote::fetch(&ctx, r.as_deref(), *json)?,
        Command::Pull { remote: r, json } => remote::pull(&ctx, r.as_deref(), *json)?,
        Command::Gc {
            remote: r,
            dry_run,
            force,
            grace,
            json,
        } => remote::gc(&ctx, r.as_deref(), *dry_run, *force, grace.as_secs(), *json)?,
        Command::Cat { spec, path } => remote::cat(&ctx, spec, path.as_deref())?,
        Command::Audit {
            source,
            expect_id,
            json,
            html,
            quick,
        } => {
            let report = coffer::audit::audit(&coffer::audit::AuditOptions {
                source: source.clone(),
                expect: parse_expect(expect_id)?,
                memory: dirs::config_dir().map(|d| d.join("coffer").join("audits.json")),
                progress: ctx.progress(),
                quick: *quick,
            })?;
            if let Some(path) = html {
                let page = coffer::audit::html::render(&report);
                coffer::repo::write_atomic(path, page.as_bytes())?;
                ctx.say(format!("wrote the report to {}", path.display()));
            }
            if *json {
                print_json(&report);
                return Ok(if report.report.is_clean() {
                    Outcome::Ok
                } else {
                    Outcome::Findings
                });
            }
            return Ok(show_report(&report.report, false));
        }
        Command::Checkpoint { remote: r, json } => {
            let ds = ctx.dataset()?;
            let id = ctx.identity()?;
            let c = coffer::remote::checkpoint::renew(&ds, r.as_deref(), &id, ctx.progress())?;
            if *json {
                print_json(&c);
            } else {
                println!(
                    "published checkpoint {}: policy seq {}, {} head(s), fresh until {}",
                    c.id.short(),
                    c.policy_seq,
                    c.heads.len(),
                    history::format_time(c.expires)
                );
            }
        }
        Command::Witness {
            source,
            expect_id,
            json,
        } => {
            let id = ctx.identity()?;
            let o = coffer::witness::witness(
                &coffer::witness::WitnessOptions {
                    source: source.clone(),
                    expect: parse_expect(expect_id)?,
                    memory: dirs::config_dir().map(|d| d.join("coffer").join("witnessed.json")),
                },
                &id,
            )?;
            if *json {
                print_json(&o);
            } else {
                println!("{}: {}", o.status, o.message);
            }
            return Ok(if o.refused() {
                Outcome::Findings
            } else {
                Outcome::Ok
            });
        }
        Command::Verify { remote, json } => {
            let ds = ctx.dataset()?;
            let id = match ctx.identity() {
                Ok(i) => Some(i),
                Err(Error::NoIdentity { .. }) => None,
                Err(e) => return Err(e),
            };
            let report = match remote {
                Some(name) => verify::verify_remote(&ds, Some(name), id.as_ref(), ctx.progress())?,
                None => verify::verify(&ds, id.as_ref(), ctx.progress())?,
            };
            return Ok(show_report(&report, *json));
        }
    }
    Ok(Outcome::Ok)
}

fn parse_expect(expect_id: &Option<String>) -> Result<Option<coffer::Id>> {
    match expect_id {
        Some(s) => Ok(Some(coffer::Id::from_hex(s).ok_or_else(|| {
            Error::Usage(format!("--expect-id {s}: expected 64 hex digits"))
        })?)),
        None => Ok(None),
    }
}

/// Print a verify or audit report; exit 1 when it is not clean.
fn show_report(report: &verify::Report, json: bool) -> Outcome {
    if json {
        print_json(report);
    } else {
        output::print_report(report);
    }
    if report.is_clean() {
        Outcome::Ok
    } else {
        Outcome::Findings
    }
}

fn share(ctx: &Ctx, sc: &ShareCommand) -> Result<()> {
    use coffer::sharing::change::{self, Change};
    let ds = ctx.dataset()?;
    let (change, json) = match sc {
        ShareCommand::Add {
            public,
            name,
            role,
            from_now,
            json,
        } => (
            Change::Add {
                public: public.parse()?,
                label: name.clone(),
                role: role.clone(),
                from_now: *from_now,
            },
            *json,
        ),
        ShareCommand::Remove { label, json } => (
            Change::Remove {
                label: label.clone(),
            },
            *json,
        ),
        ShareCommand::Role { label, role, json } => (
            Change::Role {
                label: label.clone(),
                role: role.clone(),
            },
            *json,
        ),
        ShareCommand::Repair { json } => (Change::Repair, *json),
        ShareCommand::Audit {
            expiry,
            witness,
            quorum,
            strict,
            off,
            json,
        } => (
            Change::Audit(audit_settings(expiry, witness, *quorum, *strict, *off)?),
            *json,
        ),
        ShareCommand::List { json } => return share_list(&ds, *json),
    };
    let id = ctx.identity()?;
    let o = change::apply(&ds, &id, &change, ctx.progress())?;
    if json {
        print_json(&o);
        return Ok(());
    }
    let at = format!("policy {}, seq {}", o.policy.short(), o.seq);
    match &change {
        Change::Add {
            label,
            role,
            from_now: false,
            ..
        } => println!("added {label:?} as {role} ({at}); they can read every version"),
        Change::Add { label, role, .. } => {
            println!("added {label:?} as {role} from now on: new epoch {} ({at})", o.epoch);
            if let Some(v) = o.reseal {
                println!(
                    "sealed the newest version again for them as version {} ({} in {} new pack(s))",
                    v.short(),
                    human_bytes(o.resealed.bytes),
                    o.resealed.packs
                );
            }
        }
        Change::Remove { label } => println!(
            "withdrew {label:?}: new epoch {} ({at}); versions committed from now on are sealed under a key they do not have, and versions they sign are refused"
            , o.epoch
        ),
        Change::Role { label, role } => println!("{label:?} is now {role} ({at})"),
        Change::Audit(None) => println!(
            "removed the audit settings ({at}); checkpoints stay fresh for 7 days; push it"
        ),
        Change::Audit(Some(a)) => println!(
            "audit settings ({at}): checkpoints fresh for {}, {} witness(es){}{}; push it",
            coffer::history::format_age(a.expiry),
            a.witnesses.len(),
            if a.quorum > 0 {
                format!(", {} cosignature(s) needed", a.quorum)
            } else {
                String::new()
            },
            if a.strict { ", strict" } else { "" }
        ),
        Change::Repair => println!(
            "repaired the fork: {at} applies the changes of every side (withdrawals and demotions win), new epoch {}; push it so every member sees it (`coffer share list` shows who is in)",
            o.epoch
        ),
    }
    Ok(())
}

/// The audit settings `share audit` asks for.
fn audit_settings(
    expiry: &humantime::Duration,
    witness: &[String],
    quorum: Option<u32>,
    strict: bool,
    off: bool,
) -> Result<Option<coffer::object::policy::Audit>> {
    use coffer::object::policy::{Audit, Witness};
    if off {
        return Ok(None);
    }
    let mut witnesses = Vec::new();
    for w in witness {
        let (label, public) = w.split_once('=').ok_or_else(|| {
            Error::Usage(format!(
                "--witness {w}: expected LABEL=PUBLIC (PUBLIC from the witness's `coffer id show`)"
            ))
        })?;
        let p: coffer::identity::PublicIdentity = public.parse()?;
        witnesses.push(Witness(
            label.trim().to_string(),
            coffer::id::Bytes32(p.sign),
        ));
    }
    witnesses.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let quorum = match quorum {
        Some(q) => q,
        None => u32::from(!witnesses.is_empty()),
    };
    Ok(Some(Audit {
        expiry: expiry.as_secs(),
        quorum,
        strict,
        witnesses,
    }))
}

fn share_list(ds: &Dataset, json: bool) -> Result<()> {
    let chain = ds.chain()?;
    let (pid, tip) = chain.tip();
    let rows: Vec<serde_json::Value> = tip
        .members
        .iter()
        .map(|m| {
            let public = coffer::identity::PublicIdentity {
                sign: *m.sign_key(),
                kx: *m.kx_key(),
            };
            serde_json::json!({ "label": m.label(), "role": m.role(), "public": public.to_string() })
        })
        .collect();
    if json {
        print_json(
            &serde_json::json!({ "policy": pid, "seq": tip.seq, "epoch": tip.epoch, "members": rows }),
        );
        return Ok(());
    }
    println!(
        "policy {} (seq {}, epoch {}):",
        pid.short(),
        tip.seq,
        tip.epoch
    );
    for r in rows {
        println!(
            "  {:<24} {:<7} {}",
            r["label"].as_str().unwrap_or(""),
            r["role"].as_str().unwrap_or(""),
            r["public"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
