//! The trust rules: which policies are in force and which versions are history. Every path
//! that reads or writes history (commit, share changes, fetch, pull, push, clone, checkout,
//! verify, access) asks this module and nothing else (spec/format.md §9, §10.1a, §11.1).
//!
//! Policies ([`chain`], spec §10.1a). A genesis policy is accepted when:
//! - G1 `genesis-epoch`: its epoch is 0 and it wraps no other epoch;
//! - G2 `genesis-signer`: it is signed by a member it names as owner;
//! - and P6-P8 below hold for it.
//!
//! A later policy `next` follows the last accepted policy `prev` when:
//! - P1 `policy-dataset`: it names the dataset;
//! - P2 `policy-seq`: its `seq` is one more than `prev`'s;
//! - P3 `policy-signer`: its signer is an owner or admin in `prev`;
//! - P4 `policy-role-power`: an admin (not an owner) neither adds, removes nor changes an
//!   owner, gives anyone the owner role, nor changes the audit settings;
//! - P5 `policy-epoch`: its epoch is `prev`'s, or `prev`'s plus one;
//! - P6 `policy-owner`: it still has an owner;
//! - P7 `policy-withdrawal-epoch`: if it withdraws anyone, it starts a new epoch;
//! - P8 `policy-wraps`: every member has a wrap for its epoch, every wrap is for a member
//!   and for an epoch no later than its own.
//!
//! A policy that is not reached from the genesis is `policy-detached`. Two or more policies
//! that follow one policy form a fork (`policy-fork`): a side signed by someone whom another
//! side withdraws or demotes is ignored (`policy-fork-withdrawn-signer`); if more than one side
//! remains, none is in force, their withdrawals and demotions apply at once, and no version
//! can be made until the fork is repaired (spec §10.1c). A repair policy follows the same
//! policy, names every remaining side (and every other well-formed repair) in `repairs`, is
//! signed by an owner or admin no side withdrew or demoted, keeps out everyone a side
//! withdrew, gives nobody more than a side that demoted them left them, and starts an epoch
//! above every side's (`policy-repair`); the sides are then `policy-fork-repaired`.
//!
//! Versions ([`history`], spec §9). A version is accepted when:
//! - V1 `version-dataset`: it names this dataset;
//! - V2 `version-policy`: it names an accepted policy;
//! - V3 `version-author`: its author is an owner, admin or writer in that policy;
//! - V4 `version-epoch`: its epoch is that policy's;
//! - V5 `version-parent`: every parent is in the store and accepted;
//! - V6 `version-seq`: its `seq` is one more than its parents' largest (1 without parents);
//! - V7 `version-policy-order`: its policy is not earlier in the chain than a parent's;
//! - V8 `version-withdrawn-writer`: for every later policy that removes its author's write
//!   role, it is one of the versions that policy acknowledged (below its `heads`);
//! - V9 `version-withdrawn-reader`: for every policy that withdraws members and does not
//!   acknowledge it, neither its seal nor any pack it lists that no acknowledged version
//!   lists is of an epoch a withdrawn member held;
//! - V10 `version-pack-epoch`: every member of its policy holds the epoch of every pack it
//!   lists.
//!
//! A version whose packs are not all in the store is `incomplete` (V11 `version-pack-missing`):
//! damage, not a broken rule.
//!
//! Checkpoints and cosignatures ([`checkpoint`], spec §10.5): C1-C7, W1, F1-F3 there.
//!
//! A blob is always opened with the keys of the epoch in its pack's trailer (spec §7).

pub mod chain;
pub mod checkpoint;
pub mod history;

pub use chain::Chain;
pub use history::History;

use serde::Serialize;

/// A rule of the format, by its stable name (used in findings, errors and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Rule {
    /// The object's bytes do not hash to its name.
    ObjectName,
    /// The object does not decode canonically, or breaks the structure of its kind.
    ObjectMalformed,
    /// The signature does not verify.
    Signature,
    /// G1: a genesis policy has epoch 0 and wraps no other.
    GenesisEpoch,
    /// G2: a genesis policy is signed by an owner it names.
    GenesisSigner,
    /// A second genesis policy in the store (another dataset's, or an impostor).
    GenesisOther,
    /// P1: a later policy names the dataset.
    PolicyDataset,
    /// P2: sequence numbers follow one another.
    PolicySeq,
    /// P3: signed by an owner or admin of the policy before it.
    PolicySigner,
    /// P4: what an admin may change.
    PolicyRolePower,
    /// P5: the epoch stays or goes up by one.
    PolicyEpoch,
    /// P6: there is still an owner.
    PolicyOwner,
    /// P7: a withdrawal starts a new epoch.
    PolicyWithdrawalEpoch,
    /// P8: wraps match the members.
    PolicyWraps,
    /// Not reached from the genesis policy.
    PolicyDetached,
    /// One of several policies following the same policy.
    PolicyFork,
    /// A fork side signed by someone another side withdrew or demoted.
    PolicyForkWithdrawnSigner,
    /// A side of a fork that a repair policy settled: kept in the store, not in force.
    PolicyForkRepaired,
    /// A repair policy that does not repair the fork it follows.
    PolicyRepair,
    /// V1.
    VersionDataset,
    /// V2.
    VersionPolicy,
    /// V3.
    VersionAuthor,
    /// V4.
    VersionEpoch,
    /// V5.
    VersionParent,
    /// V6.
    VersionSeq,
    /// V7.
    VersionPolicyOrder,
    /// V8.
    VersionWithdrawnWriter,
    /// V9.
    VersionWithdrawnReader,
    /// V10.
    VersionPackEpoch,
    /// V11 (damage, not a broken rule).
    VersionPackMissing,
    /// C1: a checkpoint names this dataset.
    CheckpointDataset,
    /// C2: a checkpoint is signed by a writer of the policy in force and of the one it names.
    CheckpointSigner,
    /// C3: a checkpoint is fresh no longer than the policy allows.
    CheckpointExpiry,
    /// C4: a checkpoint is not signed in the reader's future.
    CheckpointTime,
    /// C5: a checkpoint names an accepted policy.
    CheckpointPolicy,
    /// C6: a checkpoint names what the store does not show this reader.
    SplitView,
    /// C7: one signer's checkpoints tell one history.
    CheckpointHistory,
    /// W1: a cosignature by a witness, of a counted checkpoint.
    Cosignature,
    /// F1: no checkpoint counts.
    CheckpointMissing,
    /// F2: no checkpoint has the quorum.
    CheckpointQuorum,
    /// F3: the newest checkpoint has expired.
    Freeze,
}

impl Rule {
    /// The stable name, as in the spec and in `--json` findings.
    pub fn name(self) -> &'static str {
        match self {
            Rule::ObjectName => "object-name",
            Rule::ObjectMalformed => "object-malformed",
            Rule::Signature => "signature",
            Rule::GenesisEpoch => "genesis-epoch",
            Rule::GenesisSigner => "genesis-signer",
            Rule::GenesisOther => "genesis-other",
            Rule::PolicyDataset => "policy-dataset",
            Rule::PolicySeq => "policy-seq",
            Rule::PolicySigner => "policy-signer",
            Rule::PolicyRolePower => "policy-role-power",
            Rule::PolicyEpoch => "policy-epoch",
            Rule::PolicyOwner => "policy-owner",
            Rule::PolicyWithdrawalEpoch => "policy-withdrawal-epoch",
            Rule::PolicyWraps => "policy-wraps",
            Rule::PolicyDetached => "policy-detached",
            Rule::PolicyFork => "policy-fork",
            Rule::PolicyForkWithdrawnSigner => "policy-fork-withdrawn-signer",
            Rule::PolicyForkRepaired => "policy-fork-repaired",
            Rule::PolicyRepair => "policy-repair",
            Rule::VersionDataset => "version-dataset",
            Rule::VersionPolicy => "version-policy",
            Rule::VersionAuthor => "version-author",
            Rule::VersionEpoch => "version-epoch",
            Rule::VersionParent => "version-parent",
            Rule::VersionSeq => "version-seq",
            Rule::VersionPolicyOrder => "version-policy-order",
            Rule::VersionWithdrawnWriter => "version-withdrawn-writer",
            Rule::VersionWithdrawnReader => "version-withdrawn-reader",
            Rule::VersionPackEpoch => "version-pack-epoch",
            Rule::VersionPackMissing => "version-pack-missing",
            Rule::CheckpointDataset => "checkpoint-dataset",
            Rule::CheckpointSigner => "checkpoint-signer",
            Rule::CheckpointExpiry => "checkpoint-expiry",
            Rule::CheckpointTime => "checkpoint-time",
            Rule::CheckpointPolicy => "checkpoint-policy",
            Rule::SplitView => "split-view",
            Rule::CheckpointHistory => "checkpoint-history",
            Rule::Cosignature => "cosignature",
            Rule::CheckpointMissing => "checkpoint-missing",
            Rule::CheckpointQuorum => "checkpoint-quorum",
            Rule::Freeze => "freeze",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an object is not accepted: the rule it breaks and what, for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The rule.
    pub rule: Rule,
    /// What happened, naming people by label where the policy knows them.
    pub message: String,
}

impl Refusal {
    /// A refusal under `rule`.
    pub fn new(rule: Rule, message: impl Into<String>) -> Refusal {
        Refusal {
            rule,
            message: message.into(),
        }
    }

    /// The rule an error met while opening an object breaks (hash, encoding, signature).
    pub fn of_error(e: &crate::Error) -> Refusal {
        use crate::object::signed::{BAD_SIGNATURE, MISNAMED};
        match e {
            crate::Error::Corrupt { reason, .. } => Refusal {
                rule: match reason.as_str() {
                    MISNAMED => Rule::ObjectName,
                    BAD_SIGNATURE => Rule::Signature,
                    _ => Rule::ObjectMalformed,
                },
                message: reason.clone(),
            },
            crate::Error::Refused { refusal, .. } => refusal.clone(),
            other => Refusal::new(Rule::ObjectMalformed, other.to_string()),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (rule {})", self.message, self.rule)
    }
}

/// What an action needs of the identity that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Membership: a key to read.
    Read,
    /// The owner, admin or writer role: commit, merge.
    Write,
    /// The owner or admin role: change who has access.
    Administer,
}

/// The refusal of an action the identity may not take, in words about people: who it is to
/// the dataset, what the action needs, and whom to ask.
pub fn not_allowed(chain: &Chain, key: &[u8; 32], needs: Needs) -> crate::Error {
    let ask = chain.who_to_ask();
    let why = if chain.tip().1.member_by_sign_key(key).is_some() {
        match needs {
            Needs::Write => {
                format!("only owners, admins and writers commit; ask {ask} to make you a writer")
            }
            Needs::Administer => {
                format!("only owners and admins change who has access; ask {ask}")
            }
            Needs::Read => format!("you hold no key for the current epoch; ask {ask}"),
        }
    } else if chain.member_by_sign_key(key).is_some() {
        format!("ask {ask} to add you again if you need access")
    } else {
        format!(
            "only members can read or change it; send the output of `coffer id show` to {ask}, ask to be added, then run this again"
        )
    };
    crate::Error::NotAllowed {
        you: chain.you(key),
        dataset: chain.title(),
        why,
    }
}
