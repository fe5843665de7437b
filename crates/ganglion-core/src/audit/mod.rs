//! The audit chain: each entry's hash covers the previous entry's hash and the entry's
//! own canonical form, so changing, removing or reordering any entry breaks every hash
//! after it.
//!
//! What a chain cannot show is a history rewritten from scratch, every hash recomputed
//! by someone holding the database. For that the same entries are also the leaves of a
//! Merkle tree ([`tree`]) whose root is signed from time to time ([`checkpoint`]) with
//! a key kept outside the database: a checkpoint handed out before fixes the history up
//! to its size, and [`LogCheck`] checks a log against it with the public key alone.

pub mod checkpoint;
pub mod tree;

use sha2::{Digest, Sha256};

/// The hash that stands before the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    /// Who acted: `admin`, `account:ID`, `operator` or `anonymous`.
    pub actor: String,
    /// What was done, e.g. `unit.create`, or `denied:unit.move`.
    pub action: String,
    /// What it was done to, e.g. `unit:42`.
    pub object: String,
    /// The unit the entry is about, for showing a subtree's history.
    pub unit: Option<i64>,
    pub before_digest: Option<String>,
    pub after_digest: Option<String>,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry must carry given the hash before it.
    pub fn compute_hash(&self, prev_hash: &str) -> String {
        let unit = self.unit.map(|u| u.to_string()).unwrap_or_default();
        let fields = [
            prev_hash,
            &self.seq.to_string(),
            &self.at,
            &self.actor,
            &self.action,
            &self.object,
            &unit,
            self.before_digest.as_deref().unwrap_or(""),
            self.after_digest.as_deref().unwrap_or(""),
            &self.request_id,
        ];
        let mut hasher = Sha256::new();
        for field in fields {
            // Length-prefixed, so that no two different entries share a canonical form.
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// The digest of a record's state, for an entry's before and after.
pub fn digest(canonical: &[u8]) -> String {
    hex::encode(Sha256::digest(canonical))
}

/// Why a chain is not intact: the first entry found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// Checks a chain entry by entry, in sequence order, so that a long history can be
/// read page by page.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    head: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            head: GENESIS_HASH.to_owned(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks the next entry against everything checked before it.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), BrokenLink> {
        let expected_seq = self.checked as i64 + 1;
        let broken = |reason: &str| BrokenLink {
            seq: entry.seq,
            reason: reason.to_owned(),
        };
        if entry.seq != expected_seq {
            return Err(BrokenLink {
                seq: entry.seq,
                reason: format!(
                    "expected entry {expected_seq} here: entries are missing or out of order"
                ),
            });
        }
        if entry.prev_hash != self.head {
            return Err(broken("its link to the previous entry does not match"));
        }
        if entry.compute_hash(&self.head) != entry.hash {
            return Err(broken(
                "its content does not match its hash: it was changed",
            ));
        }
        self.head = entry.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// How many entries were found intact.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last intact entry: a fingerprint of the history so far.
    pub fn head(&self) -> &str {
        &self.head
    }
}

/// Checks entries given in sequence order; returns how many were checked.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<u64, BrokenLink> {
    let mut verifier = ChainVerifier::default();
    for entry in entries {
        verifier.check(entry)?;
    }
    Ok(verifier.checked())
}

/// Checks a whole log in one pass, entry by entry in sequence order: the chain as
/// [`ChainVerifier`] does, and the Merkle tree over the same entries, whose root at
/// each size a checkpoint names must be the checkpoint's.
#[derive(Debug, Clone, Default)]
pub struct LogCheck {
    chain: ChainVerifier,
    tree: tree::TreeBuilder,
}

impl LogCheck {
    /// Checks the next entry; `completed` is told each stored-level subtree it completes
    /// (for comparing with the subtrees a store keeps).
    pub fn check(
        &mut self,
        entry: &AuditEntry,
        completed: impl FnMut(tree::Node, tree::Hash),
    ) -> Result<(), BrokenLink> {
        self.chain.check(entry)?;
        let leaf = tree::leaf_hash(&entry.hash).map_err(|error| BrokenLink {
            seq: entry.seq,
            reason: error.to_string(),
        })?;
        self.tree.push(leaf, completed);
        Ok(())
    }

    /// How many entries were found intact.
    pub fn checked(&self) -> u64 {
        self.chain.checked()
    }

    /// The hash of the last intact entry.
    pub fn head(&self) -> &str {
        self.chain.head()
    }

    /// The root of the tree over the entries checked so far.
    pub fn root(&self) -> tree::Hash {
        self.tree.root()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(length: i64) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for seq in 1..=length {
            let prev = entries
                .last()
                .map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone());
            let mut entry = AuditEntry {
                seq,
                at: format!("2026-01-01T00:00:{seq:02}.000000Z"),
                actor: "admin".into(),
                action: "unit.create".into(),
                object: format!("unit:{seq}"),
                unit: Some(seq),
                before_digest: None,
                after_digest: Some(digest(seq.to_string().as_bytes())),
                request_id: "r".into(),
                prev_hash: prev.clone(),
                hash: String::new(),
            };
            entry.hash = entry.compute_hash(&prev);
            entries.push(entry);
        }
        entries
    }

    #[test]
    fn every_single_change_removal_and_swap_is_found() {
        let intact = chain(6);
        assert_eq!(verify_chain(&intact), Ok(6));
        for index in 0..intact.len() {
            let mut changed = intact.clone();
            changed[index].actor = "someone else".into();
            assert_eq!(verify_chain(&changed).unwrap_err().seq, index as i64 + 1);
            let mut removed = intact.clone();
            removed.remove(index);
            if index + 1 < intact.len() {
                assert!(verify_chain(&removed).is_err(), "removing entry {index}");
            }
            if index + 1 < intact.len() {
                let mut swapped = intact.clone();
                swapped.swap(index, index + 1);
                assert!(verify_chain(&swapped).is_err(), "swapping entry {index}");
            }
        }
    }
}
