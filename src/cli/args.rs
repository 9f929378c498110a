//! Command-line arguments (clap derive). Nothing here touches the library.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// coffer: versioned, encrypted, signed datasets that organisations share but may not publish.
///
/// A dataset is a folder with a `.coffer/` inside. Each `commit` makes a signed, encrypted
/// version of the folder; `checkout` brings any version back byte for byte; `verify` checks
/// signatures, the version chain and every stored object.
///
/// Exit codes: 0 success; 1 `verify` or `audit` found problems; 2 error (bad input, missing
/// identity, damaged store, ...); 130 interrupted (Ctrl-C; the last version is intact).
#[derive(Parser, Debug)]
#[command(name = "coffer", version, max_term_width = 100)]
#[command(after_help = "A first session:\n  \
coffer id new --name camden            # your identity (keys), once per person\n  \
cd export && coffer init               # make this folder a dataset\n  \
coffer commit -m 'March export'        # sign and encrypt a version\n  \
coffer log; coffer diff HEAD~1 HEAD    # read history\n  \
coffer checkout HEAD~1 --to /tmp/old   # any version back, byte for byte\n  \
coffer verify                          # check everything\n  \
coffer share add coffer1... --name GLA # let another organisation read it\n  \
coffer remote add origin s3://bucket/camden   # credentials from AWS_* variables\n  \
coffer push                            # they: coffer clone s3://bucket/camden DIR; coffer pull")]
pub struct Cli {
    /// Run as if started in DIR (like git -C).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Identity file to use [default: $COFFER_IDENTITY, else ~/.config/coffer/identity].
    #[arg(long, global = true, env = "COFFER_IDENTITY", value_name = "PATH")]
    pub identity: Option<PathBuf>,
    /// Read the identity passphrase from this environment variable instead of a prompt.
    #[arg(long, global = true, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Print nothing but results and errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create or show identities (your signing and decryption keys).
    #[command(subcommand)]
    Id(IdCommand),
    /// Make the current folder a dataset owned by your identity.
    Init {
        /// Dataset name, for people [default: the folder name].
        #[arg(long)]
        name: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record the folder as a new signed, encrypted version.
    Commit {
        /// What this version is.
        #[arg(short, long)]
        message: String,
        /// Make a version even if nothing changed.
        #[arg(long)]
        allow_empty: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what changed in the folder since the last version.
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List versions, newest first.
    Log {
        /// Print as a JSON array.
        #[arg(long)]
        json: bool,
        /// Show at most N versions.
        #[arg(short = 'n', long, value_name = "N")]
        max_count: Option<usize>,
    },
    /// Show one version: who, when, why, and its files.
    Show {
        /// Version: id, unique id prefix (4+ hex digits), HEAD or HEAD~N.
        #[arg(default_value = "HEAD")]
        version: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare versions: `diff` (HEAD vs folder), `diff A` (A vs folder), `diff A B`.
    Diff {
        /// The older side [default: HEAD].
        a: Option<String>,
        /// The newer side [default: the working folder].
        b: Option<String>,
        /// With --rows: only these files or folders, after `--` (as in git: `coffer diff
        /// HEAD~1 HEAD --rows -- housing/register.csv`).
        #[arg(last = true, value_name = "PATH")]
        paths: Vec<String>,
        /// Which rows of CSV and TSV files changed: header changes (columns added, removed,
        /// renamed), then rows added, removed and changed (with the cells that changed), for
        /// every table present on both sides whose bytes differ. Streams both versions in
        /// bounded memory, whatever the file size; rows inside chunks both versions share are
        /// parsed but not compared.
        #[arg(long)]
        rows: bool,
        /// With --rows: match rows by these columns (comma-separated), which must identify
        /// one row on each side; without, rows match when they are equal (a changed row is
        /// then one removed and one added).
        #[arg(long, value_name = "COLUMN[,COLUMN]", requires = "rows")]
        key: Option<String>,
        /// With --rows: show at most this many changed rows per file (JSON has all).
        #[arg(long, default_value_t = 10, requires = "rows")]
        limit: usize,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a version into the folder (or into another folder with --to).
    ///
    /// In place, the folder must have no uncommitted changes; files of the branch head that
    /// the version lacks are removed (files the head does not have either are left alone,
    /// as untracked files). Untracked or ignored files where the version puts a file or
    /// link, or inside a folder it turns into one, refuse the checkout before anything is
    /// changed; --force replaces them. Every file is written under a temporary name and
    /// checked before the first is put in place, so a checkout that fails on the way (a
    /// damaged pack, Ctrl-C, a full disk) leaves the folder as it was. A checkout killed
    /// outright leaves its temporary files (`.coffer-checkout.*`); no command counts them as
    /// changes, and the next commit, or checkout in place, removes them (in a folder given to
    /// --to, delete them yourself once no checkout runs there). The branch head does not
    /// move: committing afterwards records the restored content as a new version.
    Checkout {
        /// Version: id, unique id prefix (4+ hex digits), HEAD or HEAD~N.
        version: String,
        /// Write into this folder instead of the dataset's.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Overwrite files that differ from the version.
        #[arg(long)]
        force: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy a dataset another organisation shared with you, and check out its newest version.
    ///
    /// SOURCE is an s3://BUCKET/PREFIX URL (credentials and endpoint from AWS_* variables, as
    /// for `coffer remote add`), a store folder, a dataset folder, or a file:// URL; it is
    /// recorded as the remote `origin`. A clone killed part-way resumes when run again, during
    /// its copy (only what had not arrived is copied) or its checkout. The policy chain is
    /// checked from the genesis and you must be a recipient before anything is written. The
    /// dataset id is printed and remembered for SOURCE (trust on first use); --expect-id pins it.
    Clone {
        /// Where the dataset is; or, with three arguments, the hub (bucket or folder) that
        /// holds it under some prefix.
        source: String,
        /// The new folder; or, with three arguments, the dataset's name or id in the hub
        /// (see `coffer list`): a name must be unique there.
        dir: std::path::PathBuf,
        /// The new folder, when the second argument names a dataset in the hub.
        #[arg(value_name = "DIR")]
        into: Option<std::path::PathBuf>,
        /// Refuse unless SOURCE holds this dataset id.
        #[arg(long, value_name = "DATASET_ID")]
        expect_id: Option<String>,
        /// Clone only this folder: versions and policies are copied, packs are not; the
        /// files under PATH are fetched as byte ranges of packs (whole packs from servers
        /// that ignore ranges). A partial clone can read, pull and `cat` any file; it cannot
        /// commit.
        #[arg(long, value_name = "PATH")]
        path: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script: `coffer completions bash > ~/.local/share/bash-completion/completions/coffer`
    /// (zsh: into a folder on $fpath as `_coffer`; fish: `~/.config/fish/completions/coffer.fish`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `coffer man > ~/.local/share/man/man1/coffer.1`, then
    /// `man coffer`.
    Man,
    /// Every dataset in a hub (a bucket or folder holding datasets under prefixes, at any
    /// depth): name, id, owners, members, the newest version, and what your identity may do
    /// there (owner, admin, writer, reader, withdrawn, not a member). Needs no key and no
    /// clone: policies and checkpoints are public. Prefixes that cannot be read are listed
    /// with the reason; one holding several genesis policies is listed as such, unresolved.
    /// Clone one with `coffer clone HUB NAME-OR-ID DIR`.
    List {
        /// The hub: s3://BUCKET[/PREFIX] (with the usual AWS_* variables) or a folder.
        source: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Name the stores this dataset is exchanged through (S3-compatible buckets, folders).
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Send the branch and the policy chain to a remote: only objects it lacks, packs first.
    ///
    /// Refused (exit 2, nothing changed) when the remote has versions or policy changes this
    /// dataset lacks, including ones another writer pushed at the same moment: run
    /// `coffer pull`, then push again. A push killed part-way can simply be run again.
    Push {
        /// The remote [default: origin, or the only remote].
        remote: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download a remote's new policies, versions and packs, checking each; the folder and the
    /// branch head do not change.
    Fetch {
        /// The remote [default: origin, or the only remote].
        remote: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch, then bring the remote's versions into the branch and the folder.
    ///
    /// Fast-forwards when only the remote moved. When both moved, makes a merge version with
    /// both heads as parents (you must be a writer): paths only one side changed take that
    /// change; paths both changed differently keep yours and are listed, and theirs stay
    /// readable in history (`coffer cat VERSION:PATH`). The folder must have no uncommitted
    /// changes.
    Pull {
        /// The remote [default: origin, or the only remote].
        remote: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove packs no version references (left by interrupted commits or pushes), older
    /// than the grace period, from a remote or, without REMOTE, from this dataset's store.
    /// In a folder store, half-written packs (`NAME#N`) that old go too: their writer was
    /// killed.
    Gc {
        /// The remote to clean [default: this dataset's own store].
        remote: Option<String>,
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Go on when a version or claim cannot be read (gc stops otherwise), keeping every
        /// pack whose id appears anywhere in it.
        #[arg(long)]
        force: bool,
        /// Keep unreferenced packs younger than this (e.g. 30m, 24h, 2days): a push still
        /// uploading needs them. Must be at least 24h on a remote others push to.
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        grace: humantime::Duration,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write one file of a version to standard output.
    ///
    /// In a partial clone, only the parts of packs the file needs are fetched from origin.
    Cat {
        /// VERSION:PATH, e.g. HEAD:schools/places.csv or 3f2a9c:housing.geojson (or the
        /// version and the path as two arguments).
        spec: String,
        /// The path, when the version is given alone as the first argument.
        path: Option<String>,
    },
    /// Who could read each version, and who changed access when. Needs no data key.
    Access {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Share the dataset with other organisations, or withdraw access.
    #[command(subcommand)]
    Share(ShareCommand),
    /// Check signatures, the version chain and every stored object.
    ///
    /// Without a usable identity, checks what needs no key (signatures, chain, hashes of
    /// every object); with one, also decrypts every blob and walks every tree.
    /// Exit 0 clean, 1 problems found, 2 could not run.
    Verify {
        /// Check what this remote holds instead, reading every object from it again (even
        /// those this dataset holds): damage, junk, and anything this dataset saw there that
        /// is gone.
        #[arg(long, value_name = "REMOTE")]
        remote: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Audit a dataset straight from its store, as an auditor: no identity, no membership.
    ///
    /// SOURCE is what `clone` takes: s3://BUCKET/PREFIX (with the usual AWS_* variables), a
    /// store folder, a dataset folder, file:///PATH. Nothing is written there. Every rule
    /// that needs no key is applied: object hashes and encodings, signatures, the policy
    /// chain, authors' roles at the time, withdrawn writers, the epochs each version's
    /// readers hold, packs present and whole. Junk is listed and ignored. What the audit saw
    /// (newest policy, heads) is remembered per dataset, and a later audit that finds less
    /// reports a rollback. Exit 0 clean, 1 problems found, 2 could not run.
    Audit {
        /// Where the dataset is.
        source: String,
        /// The dataset id you were given (64 hex digits). Without it the store's only
        /// dataset is audited, and remembered for this source (trust on first use).
        #[arg(long, value_name = "ID")]
        expect_id: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the report as one self-contained HTML page (no scripts, no network;
        /// readable offline and printable): verdict, members over time, versions and who
        /// could read them, checkpoints and cosignatures, every finding.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// Check listings, sizes and pack trailers only (one small read per pack), not every
        /// byte of every pack: minutes become seconds on a large store, but a pack altered
        /// in the middle goes unnoticed. The verdict says so.
        #[arg(long)]
        quick: bool,
    },
    /// Publish a checkpoint on a remote without a new version: a signed, dated statement of
    /// the newest policy and the heads it holds, fresh for the dataset's audit expiry (7 days
    /// by default). Readers warn when the newest checkpoint has expired (the store may be
    /// frozen: showing nothing new). `push` publishes one too; run this from cron when
    /// weeks go by without a push. Writers only.
    Checkpoint {
        /// The remote [default: origin, or the only remote].
        remote: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cosign a dataset's newest checkpoint, as a witness named in its audit settings.
    ///
    /// Reads SOURCE (what `clone` takes) without keys, checks that the newest checkpoint
    /// names only what the store shows, and that it extends the last checkpoint this
    /// witness cosigned (the policy chain grew, every old head is still there and below a
    /// head it names); only then writes a cosignature (needs write access to the bucket).
    /// Two pushes that raced leave heads that do not extend each other: that is reported,
    /// and cosigned after the next merge. Run it from cron.
    /// Exit 0 cosigned or nothing new, 1 refused (what was found is printed), 2 could not run.
    Witness {
        /// Where the dataset is.
        source: String,
        /// The dataset id (64 hex digits); without it, the one remembered for SOURCE, or the
        /// store's only dataset (trust on first use).
        #[arg(long, value_name = "ID")]
        expect_id: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `coffer id ...`
#[derive(Subcommand, Debug)]
pub enum IdCommand {
    /// Create a new identity file (mode 0600) and print its public identity.
    New {
        /// Your name or your organisation's, as others will see it.
        #[arg(long)]
        name: String,
        /// Where to write it [default: --identity, $COFFER_IDENTITY or ~/.config/coffer/identity].
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Protect it with a passphrase (prompted, or from --passphrase-env).
        #[arg(long)]
        passphrase: bool,
        /// Print the outcome as JSON (name, public, path).
        #[arg(long)]
        json: bool,
    },
    /// Print the public identity to give to others.
    Show(ShowArgs),
}

/// `coffer id show`
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `coffer remote ...`
#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// Add a remote. URL: s3://BUCKET[/PREFIX], file:///PATH or a folder path.
    ///
    /// Credentials and endpoint come from the environment: AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL (or AWS_ENDPOINT),
    /// AWS_REGION, AWS_ALLOW_HTTP=true for a plain-http server. Non-secret settings can be
    /// kept with the dataset instead: --option endpoint=http://127.0.0.1:9000
    /// --option allow_http=true. Secrets are never written to .coffer/.
    Add {
        /// Its name, e.g. origin or gla-hub.
        name: String,
        /// Where it is.
        url: String,
        /// A store setting KEY=VALUE (object_store's S3 keys: endpoint, region, allow_http,
        /// virtual_hosted_style_request, ...). Repeatable.
        #[arg(long = "option", value_name = "KEY=VALUE")]
        options: Vec<String>,
        /// For a folder remote: create the folder and its missing parents (otherwise a
        /// folder whose parent does not exist is refused, as a likely typo).
        #[arg(long)]
        create: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Point a remote at another URL (checked as for `remote add`).
    SetUrl {
        /// Its name.
        name: String,
        /// The new URL.
        url: String,
        /// For a folder remote: create the folder and its missing parents.
        #[arg(long)]
        create: bool,
        /// Print the outcome as JSON (name, url).
        #[arg(long)]
        json: bool,
    },
    /// Rename a remote.
    Rename {
        /// Its name now.
        old: String,
        /// Its new name.
        new: String,
        /// Print the outcome as JSON (name, url).
        #[arg(long)]
        json: bool,
    },
    /// List remotes with their URLs and what was last seen there.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a remote (nothing on it is deleted).
    Remove {
        /// Its name.
        name: String,
        /// Print the outcome as JSON (name, url of the forgotten remote).
        #[arg(long)]
        json: bool,
    },
}

/// `coffer share ...`
#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Add a member by their public identity (`coffer1...`, from their `coffer id show`).
    ///
    /// Readers can decrypt; writers can also commit; admins can also add, remove and change
    /// members other than owners; owners can change anyone, owners included. Unless
    /// --from-now, the new member can read every earlier version too. With --from-now they
    /// get a new epoch only, and the newest version is sealed again under it (a reseal
    /// version signed by you) so they can read it at once, and nothing older.
    Add {
        /// Their public identity.
        public: String,
        /// The label everyone will see for them, e.g. "Hackney".
        #[arg(long)]
        name: String,
        /// reader, writer, admin or owner.
        #[arg(long, default_value = "reader")]
        role: String,
        /// Give access from the newest version on only (starts a new epoch).
        #[arg(long)]
        from_now: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a member's access: a new epoch starts whose key they do not get, so they
    /// cannot read anything committed from now on, and any version they sign from now on is
    /// refused by every reader. What they could already read stays theirs.
    Remove {
        /// Their label (see `coffer share list`).
        label: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give a member another role: reader, writer, admin or owner.
    ///
    /// Taking away write access (writer to reader) means every version they sign from now
    /// on is refused by every reader; they keep reading. Only an owner can make or change an
    /// owner.
    Role {
        /// Their label (see `coffer share list`).
        label: String,
        /// The new role.
        role: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Repair a fork: two access changes made at the same moment (possible only on a store
    /// that ignores conditional writes) leave nobody able to commit until an owner or admin
    /// runs this. It signs one policy that applies the changes of both sides, withdrawals and
    /// demotions winning, under a new epoch; then push it.
    Repair {
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set the audit settings: how long a checkpoint stays fresh, which witnesses cosign
    /// checkpoints and how many must, and whether a stale or unwitnessed store is an error
    /// for readers (rather than a warning). Owners only. The settings given replace the
    /// current ones; `--off` removes them (checkpoints then stay fresh for 7 days).
    ///
    /// A witness (an auditor, the GLA, another borough) is not a member: it holds no data
    /// key. It sends you the output of its `coffer id show`, you name it here, and it runs
    /// `coffer witness SOURCE` (from cron) to cosign each new checkpoint once it has checked
    /// that the store's history only grew.
    Audit {
        /// How long a checkpoint stays fresh, e.g. 7days, 24h.
        #[arg(long, value_name = "DURATION", default_value = "7days")]
        expiry: humantime::Duration,
        /// A witness, as LABEL=PUBLIC (PUBLIC from their `coffer id show`); repeat for more.
        #[arg(long, value_name = "LABEL=PUBLIC")]
        witness: Vec<String>,
        /// How many witnesses must cosign a checkpoint [default: 1 with witnesses].
        #[arg(long)]
        quorum: Option<u32>,
        /// Make a stale checkpoint, a missing quorum or a split view an error for readers
        /// (pull, fetch and clone refuse), not a warning.
        #[arg(long)]
        strict: bool,
        /// Remove the audit settings.
        #[arg(long, conflicts_with_all = ["witness", "quorum", "strict"])]
        off: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List members, their roles and public identities.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}
