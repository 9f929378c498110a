//! Command-line arguments (clap derive). Nothing here touches the library.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// coffer: versioned, encrypted, signed datasets that organisations share but may not publish.
///
/// A dataset is a folder with a `.coffer/` inside. Each `commit` makes a signed, encrypted
/// version of the folder; `checkout` brings any version back byte for byte; `verify` checks
/// signatures, the version chain and every stored object.
///
/// Exit codes: 0 success; 1 `verify` found problems; 2 error (bad input, missing identity,
/// damaged store, ...).
#[derive(Parser, Debug)]
#[command(name = "coffer", version, max_term_width = 100)]
#[command(after_help = "A first session:\n  \
coffer id new --name camden            # your identity (keys), once per person\n  \
cd export && coffer init               # make this folder a dataset\n  \
coffer commit -m 'March export'        # sign and encrypt a version\n  \
coffer log; coffer diff HEAD~1 HEAD    # read history\n  \
coffer checkout HEAD~1 --to /tmp/old   # any version back, byte for byte\n  \
coffer verify                          # check everything")]
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
        /// Version: id, unique id prefix, HEAD or HEAD~N.
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
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a version into the folder (or into another folder with --to).
    ///
    /// In place, the folder must have no uncommitted changes; files the version lacks are
    /// removed. The branch head does not move: committing afterwards records the restored
    /// content as a new version.
    Checkout {
        /// Version: id, unique id prefix, HEAD or HEAD~N.
        version: String,
        /// Write into this folder instead of the dataset's.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Overwrite files that differ from the version.
        #[arg(long)]
        force: bool,
    },
    /// Copy a dataset another organisation shared with you, and check out its newest version.
    ///
    /// SOURCE is a store folder, a dataset folder, or a file:// URL. The policy chain is
    /// checked from the genesis and you must be a recipient before anything is written. The
    /// dataset id is printed and remembered for SOURCE (trust on first use); --expect-id pins it.
    Clone {
        /// Where the dataset is.
        source: String,
        /// The new folder.
        dir: std::path::PathBuf,
        /// Refuse unless SOURCE holds this dataset id.
        #[arg(long, value_name = "DATASET_ID")]
        expect_id: Option<String>,
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
        /// Print the report as JSON.
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

/// `coffer share ...`
#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Add a member by their public identity (`coffer1...`, from their `coffer id show`).
    ///
    /// Readers can decrypt; writers can also commit; admins can also change members; owners can
    /// also add owners. Unless --from-now, the new member can read every earlier version too.
    Add {
        /// Their public identity.
        public: String,
        /// The label everyone will see for them, e.g. "Hackney".
        #[arg(long)]
        name: String,
        /// reader, writer, admin or owner.
        #[arg(long, default_value = "reader")]
        role: String,
        /// Give access to versions committed from now on only (starts a new epoch).
        #[arg(long)]
        from_now: bool,
    },
    /// Withdraw a member's access: a new epoch starts whose key they do not get, so they
    /// cannot read anything committed from now on. What they could already read stays theirs.
    Remove {
        /// Their label (see `coffer share list`).
        label: String,
    },
    /// List members, their roles and public identities.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}
