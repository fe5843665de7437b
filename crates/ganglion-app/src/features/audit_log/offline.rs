//! Checking what `ganglion audit export`, `proof` and `consistency` wrote, with the
//! public key alone: no database, no server, nothing the one who wrote it could have
//! arranged. An export is read line by line (a log of any length in little memory):
//! every entry's chain hash, the tree over them, every checkpoint's signature and root
//! at its size, every consistency proof between checkpoints, and any checkpoint the
//! checker held before (a history rewritten since fails there).

use std::io::BufRead;

use ganglion_core::audit::checkpoint::{LogVerifier, TreeHead};
use ganglion_core::audit::tree::{self, check_consistency, check_inclusion};
use ganglion_core::audit::{AuditEntry, LogCheck};
use serde::{Deserialize, Serialize};

use super::{ConsistencyProof, EntryRecord, InclusionProof};

/// The first line of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportHeader {
    /// The format's version: 1.
    pub ganglion_audit_export: u32,
    /// The public key the database recorded: for information only; the checker is
    /// given the key it trusts.
    pub public_key: Option<String>,
    pub entries: u64,
    pub checkpoints: u64,
}

/// A checkpoint in an export, after the entry it ends at.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointLine {
    pub size: u64,
    pub note: String,
}

/// A consistency proof in an export, after the newer of its two checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyLine {
    pub old: u64,
    pub new: u64,
    pub proof: Vec<String>,
}

/// Every line of an export after the first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    Entry(EntryRecord),
    Checkpoint(CheckpointLine),
    Consistency(ConsistencyLine),
}

/// What an offline check found, when all was well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineReport {
    /// What was checked: `export`, `inclusion` or `consistency`.
    pub document: &'static str,
    pub entries: u64,
    pub checkpoints: u64,
    pub proofs: u64,
    /// Checkpoints held before and given to the check.
    pub held: u64,
    /// Entries after the last signed checkpoint (not yet signed, so not yet fixed).
    pub unsigned_entries: u64,
    /// The root over every entry checked, hexadecimal.
    pub root: String,
    pub head: String,
}

/// Why an offline check failed: the first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OfflineFailure(pub String);

fn fail(message: impl Into<String>) -> OfflineFailure {
    OfflineFailure(message.into())
}

fn hashes(list: &[String]) -> Result<Vec<tree::Hash>, OfflineFailure> {
    list.iter()
        .map(|text| tree::from_hex(text).map_err(|error| fail(error.to_string())))
        .collect()
}

fn open(verifier: &LogVerifier, note: &str, what: &str) -> Result<TreeHead, OfflineFailure> {
    verifier
        .open(note)
        .map_err(|error| fail(format!("{what}: {error}")))
}

/// Checks a document — an export, an inclusion proof or a consistency proof — with
/// the public key `public_key`, and against `held`, checkpoints (signed notes) the
/// checker kept from before.
pub fn verify_document(
    mut reader: impl BufRead,
    public_key: &str,
    held: &[String],
) -> Result<OfflineReport, OfflineFailure> {
    let verifier = LogVerifier::new(public_key).map_err(|error| fail(error.to_string()))?;
    let mut held_heads = held
        .iter()
        .map(|note| open(&verifier, note, "a checkpoint held before"))
        .collect::<Result<Vec<_>, _>>()?;
    held_heads.sort_by_key(|head| head.size);
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .map_err(|error| fail(format!("cannot read: {error}")))?;
    // An export's first line is a JSON object of its own; a proof may span lines.
    let header = serde_json::from_str::<serde_json::Value>(first.trim()).ok();
    if let Some(value) = header.filter(|value| value.get("ganglion_audit_export").is_some()) {
        let header: ExportHeader = serde_json::from_value(value)
            .map_err(|error| fail(format!("the export's header: {error}")))?;
        if header.ganglion_audit_export != 1 {
            return Err(fail("this export's format is newer than this checker"));
        }
        return verify_export(reader, &verifier, &held_heads);
    }
    // A proof is one JSON document, perhaps over several lines.
    let mut text = first;
    reader
        .read_to_string(&mut text)
        .map_err(|error| fail(format!("cannot read: {error}")))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| fail(format!("not JSON: {error}")))?;
    match value
        .get("ganglion_audit_proof")
        .and_then(|kind| kind.as_str())
    {
        Some("inclusion") => {
            let proof: InclusionProof = serde_json::from_value(value)
                .map_err(|error| fail(format!("the inclusion proof: {error}")))?;
            verify_inclusion(&proof, &verifier, &held_heads)
        }
        Some("consistency") => {
            let proof: ConsistencyProof = serde_json::from_value(value)
                .map_err(|error| fail(format!("the consistency proof: {error}")))?;
            verify_consistency(&proof, &verifier, &held_heads)
        }
        _ => Err(fail(
            "this is neither an audit export nor an audit proof of this program",
        )),
    }
}

fn verify_inclusion(
    proof: &InclusionProof,
    verifier: &LogVerifier,
    held: &[TreeHead],
) -> Result<OfflineReport, OfflineFailure> {
    let head = open(verifier, &proof.checkpoint, "the proof's checkpoint")?;
    if head.size != proof.tree_size {
        return Err(fail("the proof's size is not its checkpoint's"));
    }
    let entry = AuditEntry::from(proof.entry.clone());
    if entry.seq < 1 || entry.seq as u64 - 1 != proof.leaf_index {
        return Err(fail("the entry is not at the proof's leaf"));
    }
    if entry.compute_hash(&entry.prev_hash) != entry.hash {
        return Err(fail(format!(
            "entry {}'s content does not match its hash: it was changed",
            entry.seq
        )));
    }
    let leaf = tree::leaf_hash(&entry.hash).map_err(|error| fail(error.to_string()))?;
    check_inclusion(
        &hashes(&proof.proof)?,
        head.size,
        head.root,
        proof.leaf_index,
        leaf,
    )
    .map_err(|_| {
        fail(format!(
            "entry {} is not in the log that the checkpoint of {} entries signed",
            entry.seq, head.size
        ))
    })?;
    for old in held {
        if old.size == head.size && old.root != head.root {
            return Err(fail(format!(
                "the checkpoint of {} entries held before has another root: the history was rewritten",
                old.size
            )));
        }
    }
    Ok(OfflineReport {
        document: "inclusion",
        entries: 1,
        checkpoints: 1,
        proofs: 1,
        held: held.len() as u64,
        unsigned_entries: 0,
        root: tree::to_hex(&head.root),
        head: entry.hash,
    })
}

fn verify_consistency(
    proof: &ConsistencyProof,
    verifier: &LogVerifier,
    held: &[TreeHead],
) -> Result<OfflineReport, OfflineFailure> {
    let old = open(verifier, &proof.old_checkpoint, "the old checkpoint")?;
    let new = open(verifier, &proof.new_checkpoint, "the new checkpoint")?;
    if old.size != proof.old_size || new.size != proof.new_size {
        return Err(fail("the proof's sizes are not its checkpoints'"));
    }
    check_consistency(&hashes(&proof.proof)?, new.size, new.root, old.size, old.root).map_err(
        |_| {
            fail(format!(
                "the log of {} entries is not a prefix of the log of {}: entries signed before were changed",
                old.size, new.size
            ))
        },
    )?;
    for kept in held {
        if (kept.size == old.size && kept.root != old.root)
            || (kept.size == new.size && kept.root != new.root)
        {
            return Err(fail(format!(
                "the checkpoint of {} entries held before has another root: the history was rewritten",
                kept.size
            )));
        }
    }
    Ok(OfflineReport {
        document: "consistency",
        entries: 0,
        checkpoints: 2,
        proofs: 1,
        held: held.len() as u64,
        unsigned_entries: 0,
        root: tree::to_hex(&new.root),
        head: String::new(),
    })
}

fn verify_export(
    reader: impl BufRead,
    verifier: &LogVerifier,
    held: &[TreeHead],
) -> Result<OfflineReport, OfflineFailure> {
    let mut log = LogCheck::default();
    // (size, root) of every checkpoint seen, for the consistency proofs after them.
    let mut signed: Vec<(u64, tree::Hash)> = Vec::new();
    let mut held_next = held.iter().peekable();
    let mut proofs = 0u64;
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|error| fail(format!("cannot read: {error}")))?;
        if line.is_empty() {
            continue;
        }
        let at = number + 2;
        let record: Line = serde_json::from_str(&line)
            .map_err(|error| fail(format!("line {at} is not an export line: {error}")))?;
        match record {
            Line::Entry(entry) => {
                let entry = AuditEntry::from(entry);
                log.check(&entry, |_, _| {}).map_err(|broken| {
                    fail(format!(
                        "the chain is broken at entry {}: {}",
                        broken.seq, broken.reason
                    ))
                })?;
                while let Some(kept) = held_next.next_if(|head| head.size == log.checked()) {
                    if kept.root != log.root() {
                        return Err(fail(format!(
                            "the entries do not match the checkpoint of {} entries held before: the history was rewritten",
                            kept.size
                        )));
                    }
                }
            }
            Line::Checkpoint(checkpoint) => {
                let head = open(verifier, &checkpoint.note, &format!("line {at}"))?;
                if head.size != checkpoint.size || head.size != log.checked() {
                    return Err(fail(format!(
                        "line {at}: the checkpoint of {} entries stands after entry {}",
                        head.size,
                        log.checked()
                    )));
                }
                if head.root != log.root() {
                    return Err(fail(format!(
                        "the entries do not match the checkpoint of {} entries: they were changed after it was signed",
                        head.size
                    )));
                }
                signed.push((head.size, head.root));
            }
            Line::Consistency(consistency) => {
                let root_of = |size: u64| {
                    signed
                        .iter()
                        .find(|(at, _)| *at == size)
                        .map(|(_, root)| *root)
                        .ok_or_else(|| {
                            fail(format!(
                                "line {at}: no checkpoint of {size} entries before it"
                            ))
                        })
                };
                let (old, new) = (root_of(consistency.old)?, root_of(consistency.new)?);
                check_consistency(
                    &hashes(&consistency.proof)?,
                    consistency.new,
                    new,
                    consistency.old,
                    old,
                )
                .map_err(|_| fail(format!("line {at}: the consistency proof does not check")))?;
                proofs += 1;
            }
        }
    }
    if let Some(kept) = held_next.next() {
        return Err(fail(format!(
            "the export ends at {} entries, before the checkpoint of {} entries held before: entries were removed",
            log.checked(),
            kept.size
        )));
    }
    let Some(&(last_signed, _)) = signed.last() else {
        return Err(fail(
            "no checkpoint in the export is signed by this key: nothing fixes these entries",
        ));
    };
    Ok(OfflineReport {
        document: "export",
        entries: log.checked(),
        checkpoints: signed.len() as u64,
        proofs,
        held: held.len() as u64,
        unsigned_entries: log.checked() - last_signed,
        root: tree::to_hex(&log.root()),
        head: log.head().to_owned(),
    })
}

/// Re-hashes the chain of an export alone, nothing else: what checking a log cost
/// before it had a tree (the benchmark's baseline).
pub fn rehash_export_chain(reader: impl BufRead) -> Result<u64, OfflineFailure> {
    let mut chain = ganglion_core::audit::ChainVerifier::default();
    for line in reader.lines().skip(1) {
        let line = line.map_err(|error| fail(format!("cannot read: {error}")))?;
        if let Ok(Line::Entry(entry)) = serde_json::from_str::<Line>(&line) {
            chain
                .check(&AuditEntry::from(entry))
                .map_err(|broken| fail(broken.reason))?;
        }
    }
    Ok(chain.checked())
}
