//! The audit log's Merkle tree, as transparency logs build it (RFC 6962 §2.1, RFC 9162
//! §2.1): leaf `i` is audit entry `i + 1`, its leaf hash `SHA-256(0x00 || h)` where `h`
//! is the entry's chain hash (32 bytes), an interior node `SHA-256(0x01 || left ||
//! right)`. The chain hash covers the entry's content and the one before it, so the
//! tree covers every entry, in order; a root signed at some size pins the first `size`
//! entries for good, and the log after it can only have grown (a consistency proof).
//!
//! The math — roots, inclusion and consistency proofs and their checks — is the
//! `tlog_tiles` crate's (a port of Go's `sumdb/tlog`). What this module adds is where
//! the hashes come from: only complete subtrees of [`BLOCK_SIZE`] leaves and more are
//! stored (level [`BLOCK_LEVEL`] and up); anything smaller is hashed again from the
//! entries. A computation is planned ([`needs_for_root`], [`needs_for_inclusion`],
//! [`needs_for_consistency`]: the complete subtrees it reads), its hashes fetched by the
//! caller, and then run on them ([`Known`]).

use std::collections::HashMap;
use std::ops::Range;

use tlog_tiles::HashReader;
pub use tlog_tiles::{Hash, EMPTY_HASH};

/// Subtrees of this level and above are stored; those below are hashed from entries.
pub const BLOCK_LEVEL: u8 = 8;
/// Leaves under one stored subtree of the lowest stored level.
pub const BLOCK_SIZE: u64 = 1 << BLOCK_LEVEL;

/// Why a computation over the tree could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("a hash is not 32 bytes of hexadecimal: {0:?}")]
    BadHash(String),
    #[error("the tree of {size} entries has no entry {leaf}")]
    NoSuchLeaf { size: u64, leaf: u64 },
    #[error("a consistency proof needs 1 <= old size ({old}) <= new size ({new})")]
    BadSizes { old: u64, new: u64 },
    #[error("the hash of the subtree at level {0}, index {1} is missing")]
    Missing(u8, u64),
    #[error("the proof does not check")]
    InvalidProof,
}

/// A complete subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub level: u8,
    pub index: u64,
}

impl Node {
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The leaves under it.
    pub fn leaves(self) -> Range<u64> {
        let start = self.index << self.level;
        start..start + (1u64 << self.level)
    }

    /// Whether the store keeps its hash.
    pub fn is_stored(self) -> bool {
        self.level >= BLOCK_LEVEL
    }

    fn of_stored_index(index: u64) -> Self {
        let (level, index) = tlog_tiles::split_stored_hash_index(index);
        Self { level, index }
    }
}

/// The leaf hash of an entry whose chain hash is `entry_hash` (hexadecimal, as stored).
pub fn leaf_hash(entry_hash: &str) -> Result<Hash, TreeError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(entry_hash, &mut bytes)
        .map_err(|_| TreeError::BadHash(entry_hash.to_owned()))?;
    Ok(tlog_tiles::record_hash(&bytes))
}

/// An interior node's hash.
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    tlog_tiles::node_hash(left, right)
}

/// A hash as the store and the notes' readers spell it: lower-case hexadecimal.
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash.0)
}

/// A hash from its hexadecimal spelling.
pub fn from_hex(text: &str) -> Result<Hash, TreeError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| TreeError::BadHash(text.to_owned()))?;
    Ok(Hash(bytes))
}

/// The root of a complete subtree from its leaf hashes (a power of two of them).
pub fn complete_root(leaves: &[Hash]) -> Hash {
    debug_assert!(leaves.len().is_power_of_two());
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(pair[0], pair[1]))
            .collect();
    }
    level[0]
}

/// A reader that only writes down what it is asked for.
struct Recorder(std::cell::RefCell<Vec<u64>>);

impl HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Err(tlog_tiles::Error::IndexesNotInTree)
    }
}

fn recorded(run: impl FnOnce(&Recorder)) -> Vec<Node> {
    let recorder = Recorder(Default::default());
    run(&recorder);
    let mut nodes: Vec<Node> = recorder
        .0
        .into_inner()
        .into_iter()
        .map(Node::of_stored_index)
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// The complete subtrees whose hashes make the root of the tree of `size` leaves.
pub fn needs_for_root(size: u64) -> Vec<Node> {
    if size == 0 {
        return Vec::new();
    }
    recorded(|reader| {
        let _ = tlog_tiles::tree_hash(size, reader);
    })
}

/// What proving that leaf `leaf` is in the tree of `size` leaves reads, the root included.
pub fn needs_for_inclusion(size: u64, leaf: u64) -> Result<Vec<Node>, TreeError> {
    if leaf >= size {
        return Err(TreeError::NoSuchLeaf { size, leaf });
    }
    let mut nodes = recorded(|reader| {
        let _ = tlog_tiles::prove_record(size, leaf, reader);
    });
    nodes.push(Node::new(0, leaf));
    nodes.extend(needs_for_root(size));
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

/// What proving that the tree of `old` leaves is a prefix of the tree of `new` reads,
/// both roots included.
pub fn needs_for_consistency(old: u64, new: u64) -> Result<Vec<Node>, TreeError> {
    if old == 0 || old > new {
        return Err(TreeError::BadSizes { old, new });
    }
    let mut nodes = recorded(|reader| {
        let _ = tlog_tiles::prove_tree(new, old, reader);
    });
    nodes.extend(needs_for_root(old));
    nodes.extend(needs_for_root(new));
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

/// Which of `needs` the store keeps, and which leaves the others are hashed from (as
/// ranges of leaf indexes, sorted and merged).
pub fn split_needs(needs: &[Node]) -> (Vec<Node>, Vec<Range<u64>>) {
    let stored: Vec<Node> = needs.iter().copied().filter(|n| n.is_stored()).collect();
    let mut ranges: Vec<Range<u64>> = needs
        .iter()
        .filter(|n| !n.is_stored())
        .map(|n| n.leaves())
        .collect();
    ranges.sort_by_key(|range| range.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    (stored, merged)
}

/// The hashes of complete subtrees a computation was given.
#[derive(Debug, Clone, Default)]
pub struct Known(HashMap<Node, Hash>);

impl Known {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, node: Node, hash: Hash) {
        self.0.insert(node, hash);
    }

    pub fn get(&self, node: Node) -> Option<Hash> {
        self.0.get(&node).copied()
    }

    /// Adds the hash of every subtree among `needs` not known yet whose leaves all lie
    /// in `leaves` (which starts at leaf `first`), hashed from them.
    pub fn add_from_leaves(&mut self, needs: &[Node], first: u64, leaves: &[Hash]) {
        let unknown: Vec<Node> = needs
            .iter()
            .copied()
            .filter(|n| !self.0.contains_key(n))
            .collect();
        for node in &unknown {
            let range = node.leaves();
            if range.start < first || range.end > first + leaves.len() as u64 {
                continue;
            }
            let start = (range.start - first) as usize;
            let end = (range.end - first) as usize;
            self.0.insert(*node, complete_root(&leaves[start..end]));
        }
    }

    /// The root of the tree of `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, TreeError> {
        if size == 0 {
            return Ok(EMPTY_HASH);
        }
        tlog_tiles::tree_hash(size, self).map_err(|_| self.first_missing(&needs_for_root(size)))
    }

    /// The proof that leaf `leaf` is in the tree of `size` leaves (RFC 6962's audit
    /// path, nearest the leaf first).
    pub fn prove_inclusion(&self, size: u64, leaf: u64) -> Result<Vec<Hash>, TreeError> {
        if leaf >= size {
            return Err(TreeError::NoSuchLeaf { size, leaf });
        }
        tlog_tiles::prove_record(size, leaf, self)
            .map_err(|_| self.first_missing(&needs_for_inclusion(size, leaf).unwrap_or_default()))
    }

    /// The proof that the tree of `old` leaves is a prefix of the tree of `new`.
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, TreeError> {
        if old == 0 || old > new {
            return Err(TreeError::BadSizes { old, new });
        }
        tlog_tiles::prove_tree(new, old, self)
            .map_err(|_| self.first_missing(&needs_for_consistency(old, new).unwrap_or_default()))
    }

    fn first_missing(&self, needs: &[Node]) -> TreeError {
        needs
            .iter()
            .find(|node| !self.0.contains_key(node))
            .map_or(TreeError::InvalidProof, |node| {
                TreeError::Missing(node.level, node.index)
            })
    }
}

impl HashReader for Known {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                self.0
                    .get(&Node::of_stored_index(index))
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// Checks that `proof` shows leaf `leaf`, of hash `leaf_hash`, in the tree of `size`
/// leaves whose root is `root`.
pub fn check_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    leaf: u64,
    leaf_hash: Hash,
) -> Result<(), TreeError> {
    if leaf >= size {
        return Err(TreeError::NoSuchLeaf { size, leaf });
    }
    // The recursion of the check goes as deep as the proof is long; a proof longer
    // than any tree's height is refused before it runs.
    if proof.len() > 64 {
        return Err(TreeError::InvalidProof);
    }
    tlog_tiles::check_record(&proof.to_vec(), size, root, leaf, leaf_hash)
        .map_err(|_| TreeError::InvalidProof)
}

/// Checks that `proof` shows the tree of `old` leaves with root `old_root` to be a
/// prefix of the tree of `new` leaves with root `new_root`.
pub fn check_consistency(
    proof: &[Hash],
    new: u64,
    new_root: Hash,
    old: u64,
    old_root: Hash,
) -> Result<(), TreeError> {
    if old == 0 || old > new {
        return Err(TreeError::BadSizes { old, new });
    }
    if proof.len() > 128 {
        return Err(TreeError::InvalidProof);
    }
    tlog_tiles::check_tree(&proof.to_vec(), new, new_root, old, old_root)
        .map_err(|_| TreeError::InvalidProof)
}

/// The stored subtrees that growing the tree from `blocks_before` complete blocks
/// needs to read: the last complete node of each stored level whose count is odd, the
/// left sibling of what will complete next.
pub fn frontier_needs(blocks_before: u64) -> Vec<Node> {
    let mut needs = Vec::new();
    let mut level = BLOCK_LEVEL;
    let mut count = blocks_before;
    while count > 0 {
        if count % 2 == 1 {
            needs.push(Node::new(level, count - 1));
        }
        count /= 2;
        level += 1;
    }
    needs
}

/// The stored nodes that become complete when blocks `blocks_before..` (whose level-8
/// hashes are `new_blocks`, in order) join the tree, given the [`frontier_needs`] of
/// `blocks_before`.
pub fn grow(
    blocks_before: u64,
    frontier: &Known,
    new_blocks: &[Hash],
) -> Result<Vec<(Node, Hash)>, TreeError> {
    let mut known = frontier.clone();
    let mut made = Vec::with_capacity(new_blocks.len() * 2);
    for (offset, hash) in new_blocks.iter().enumerate() {
        let mut node = Node::new(BLOCK_LEVEL, blocks_before + offset as u64);
        let mut hash = *hash;
        known.insert(node, hash);
        made.push((node, hash));
        while node.index % 2 == 1 {
            let sibling = Node::new(node.level, node.index - 1);
            let left = known
                .get(sibling)
                .ok_or(TreeError::Missing(sibling.level, sibling.index))?;
            hash = node_hash(left, hash);
            node = Node::new(node.level + 1, node.index / 2);
            known.insert(node, hash);
            made.push((node, hash));
        }
    }
    Ok(made)
}

/// The tree built leaf by leaf, keeping only its right edge (a hash per level), so
/// that a whole log is checked in one pass and little memory: the root at every size
/// along the way, and each complete subtree as it completes.
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    size: u64,
    /// Complete subtrees from the left, largest first: (level, hash).
    edge: Vec<(u8, Hash)>,
}

impl TreeBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leaves it holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next leaf; `completed` is told each stored-level subtree it completes.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(Node, Hash)) {
        let mut level = 0u8;
        let mut hash = leaf;
        while let Some(&(top_level, top_hash)) = self.edge.last() {
            if top_level != level {
                break;
            }
            self.edge.pop();
            hash = node_hash(top_hash, hash);
            level += 1;
            if level >= BLOCK_LEVEL {
                completed(Node::new(level, ((self.size + 1) >> level) - 1), hash);
            }
        }
        self.edge.push((level, hash));
        self.size += 1;
    }

    /// The root of the tree as it stands.
    pub fn root(&self) -> Hash {
        let mut parts = self.edge.iter().rev();
        let Some(&(_, mut hash)) = parts.next() else {
            return EMPTY_HASH;
        };
        for &(_, left) in parts {
            hash = node_hash(left, hash);
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> Hash {
        from_hex(text).unwrap()
    }

    /// The reference leaves and roots of RFC 6962 trees (Certificate Transparency's
    /// test data, as in transparency-dev/merkle's `testonly`).
    fn reference_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|data| tlog_tiles::record_hash(&hex::decode(data).unwrap()))
        .collect()
    }

    const REFERENCE_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// Every subtree hash of a small tree, computed the plain way.
    fn known_from_leaves(leaves: &[Hash]) -> Known {
        let mut known = Known::new();
        let mut level = 0u8;
        let mut row: Vec<Hash> = leaves.to_vec();
        while !row.is_empty() {
            for (index, hash) in row.iter().enumerate() {
                known.insert(Node::new(level, index as u64), *hash);
            }
            row = row
                .chunks_exact(2)
                .map(|pair| node_hash(pair[0], pair[1]))
                .collect();
            level += 1;
        }
        known
    }

    /// RFC 6962's MTH, written from its definition, to check everything else against.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_HASH,
            1 => leaves[0],
            n => {
                // The largest power of two below n.
                let k = 1usize << (n - 1).ilog2();
                node_hash(mth(&leaves[..k]), mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_reference_vectors() {
        let leaves = reference_leaves();
        let known = known_from_leaves(&leaves);
        let mut builder = TreeBuilder::new();
        for (size, expected) in REFERENCE_ROOTS.iter().enumerate() {
            let size = size as u64 + 1;
            assert_eq!(known.root(size).unwrap(), h(expected), "size {size}");
            assert_eq!(mth(&leaves[..size as usize]), h(expected), "size {size}");
            builder.push(leaves[size as usize - 1], |_, _| {});
            assert_eq!(builder.root(), h(expected), "built to size {size}");
        }
        assert_eq!(TreeBuilder::new().root(), EMPTY_HASH);
        assert_eq!(
            to_hex(&EMPTY_HASH),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn proofs_match_the_reference_vectors() {
        let known = known_from_leaves(&reference_leaves());
        // (leaf, counted from 1 as the reference does; size; proof)
        let inclusions: &[(u64, u64, &[&str])] = &[
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                3,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                2,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (leaf, size, expected) in inclusions {
            let proof = known.prove_inclusion(*size, leaf - 1).unwrap();
            let expected: Vec<Hash> = expected.iter().map(|e| h(e)).collect();
            assert_eq!(proof, expected, "inclusion of {leaf} in {size}");
        }
        let consistencies: &[(u64, u64, &[&str])] = &[
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                6,
                7,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (old, new, expected) in consistencies {
            let proof = known.prove_consistency(*old, *new).unwrap();
            let expected: Vec<Hash> = expected.iter().map(|e| h(e)).collect();
            assert_eq!(proof, expected, "consistency of {old} with {new}");
            check_consistency(
                &proof,
                *new,
                h(REFERENCE_ROOTS[*new as usize - 1]),
                *old,
                h(REFERENCE_ROOTS[*old as usize - 1]),
            )
            .unwrap();
        }
    }

    /// Every inclusion and consistency proof of every tree up to `largest` leaves is
    /// made from exactly the subtrees planned, checks, and fails when any of its
    /// hashes, the leaf, the sizes or the roots are wrong.
    fn every_proof_of_every_size(largest: u64, leaf_of: impl Fn(u64) -> Hash) {
        let leaves: Vec<Hash> = (0..largest).map(leaf_of).collect();
        let all = known_from_leaves(&leaves);
        let roots: Vec<Hash> = (0..=largest).map(|n| mth(&leaves[..n as usize])).collect();
        let planned = |needs: Vec<Node>| {
            let mut known = Known::new();
            for node in needs {
                known.insert(node, all.get(node).unwrap());
            }
            known
        };
        for size in 1..=largest {
            assert_eq!(
                planned(needs_for_root(size)).root(size).unwrap(),
                roots[size as usize]
            );
            for leaf in 0..size {
                let known = planned(needs_for_inclusion(size, leaf).unwrap());
                let proof = known.prove_inclusion(size, leaf).unwrap();
                let root = roots[size as usize];
                check_inclusion(&proof, size, root, leaf, leaves[leaf as usize]).unwrap();
                for index in 0..proof.len() {
                    let mut wrong = proof.clone();
                    wrong[index].0[0] ^= 8;
                    assert!(
                        check_inclusion(&wrong, size, root, leaf, leaves[leaf as usize]).is_err()
                    );
                }
                assert!(check_inclusion(&proof, size, root, leaf, EMPTY_HASH).is_err());
                if size > 1 {
                    let other = (leaf + 1) % size;
                    assert!(
                        check_inclusion(&proof, size, root, other, leaves[leaf as usize]).is_err()
                            || leaves[other as usize] == leaves[leaf as usize]
                    );
                    assert!(check_inclusion(
                        &proof,
                        size,
                        roots[size as usize - 1],
                        leaf,
                        leaves[leaf as usize]
                    )
                    .is_err());
                }
                if !proof.is_empty() {
                    assert!(
                        check_inclusion(&proof[1..], size, root, leaf, leaves[leaf as usize])
                            .is_err()
                    );
                }
            }
            for old in 1..=size {
                let known = planned(needs_for_consistency(old, size).unwrap());
                let proof = known.prove_consistency(old, size).unwrap();
                let (old_root, new_root) = (roots[old as usize], roots[size as usize]);
                check_consistency(&proof, size, new_root, old, old_root).unwrap();
                if old < size {
                    assert!(
                        check_consistency(&proof, size, new_root, old, roots[old as usize - 1])
                            .is_err()
                            || old == 1
                    );
                    assert!(check_consistency(&proof, size, old_root, old, new_root).is_err());
                    for index in 0..proof.len() {
                        let mut wrong = proof.clone();
                        wrong[index].0[0] ^= 16;
                        assert!(check_consistency(&wrong, size, new_root, old, old_root).is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn every_proof_of_every_small_tree_checks_and_no_corrupted_one_does() {
        every_proof_of_every_size(70, |i| tlog_tiles::record_hash(&i.to_be_bytes()));
    }

    #[test]
    fn stored_and_unstored_subtrees_together_make_the_same_proofs() {
        // Trees past a few blocks, with the small subtrees hashed from leaves as the
        // store does, and only the stored ones read as nodes.
        let largest = 3 * BLOCK_SIZE + 37;
        let leaves: Vec<Hash> = (0..largest)
            .map(|i| tlog_tiles::record_hash(&i.to_be_bytes()))
            .collect();
        let all = known_from_leaves(&leaves);
        for size in [1, 255, 256, 257, 511, 512, 513, 700, largest] {
            let root = mth(&leaves[..size as usize]);
            for leaf in [0, size / 3, size / 2, size - 1] {
                let needs = needs_for_inclusion(size, leaf).unwrap();
                let (stored, ranges) = split_needs(&needs);
                let mut known = Known::new();
                for node in &stored {
                    known.insert(*node, all.get(*node).unwrap());
                }
                assert!(ranges.len() <= 3, "{ranges:?}");
                for range in ranges {
                    let slice = &leaves[range.start as usize..range.end as usize];
                    known.add_from_leaves(&needs, range.start, slice);
                }
                let proof = known.prove_inclusion(size, leaf).unwrap();
                check_inclusion(
                    &proof,
                    size,
                    known.root(size).unwrap(),
                    leaf,
                    leaves[leaf as usize],
                )
                .unwrap();
                assert_eq!(known.root(size).unwrap(), root);
            }
        }
    }

    #[test]
    fn growing_block_by_block_stores_every_complete_subtree() {
        let blocks = 23u64;
        let leaves: Vec<Hash> = (0..blocks * BLOCK_SIZE)
            .map(|i| tlog_tiles::record_hash(&i.to_be_bytes()))
            .collect();
        let all = known_from_leaves(&leaves);
        let block_hashes: Vec<Hash> = leaves
            .chunks(BLOCK_SIZE as usize)
            .map(complete_root)
            .collect();
        let mut stored = Known::new();
        let mut count = 0;
        // Grown in uneven steps, as the checkpointer finds them.
        let mut before = 0u64;
        for step in [1u64, 2, 5, 1, 7, 3, 4] {
            let mut frontier = Known::new();
            for node in frontier_needs(before) {
                frontier.insert(node, stored.get(node).expect("stored before"));
            }
            let end = (before + step).min(blocks);
            for (node, hash) in grow(
                before,
                &frontier,
                &block_hashes[before as usize..end as usize],
            )
            .unwrap()
            {
                assert_eq!(Some(hash), all.get(node), "{node:?}");
                stored.insert(node, hash);
                count += 1;
            }
            before = end;
        }
        assert_eq!(before, blocks);
        // Every complete subtree of 256 leaves or more, and nothing else.
        let expected: u64 = (0..)
            .map(|level| blocks >> level)
            .take_while(|&n| n > 0)
            .sum();
        assert_eq!(count, expected);
        // The builder completes the same nodes.
        let mut builder = TreeBuilder::new();
        let mut completed = 0;
        for leaf in &leaves {
            builder.push(*leaf, |node, hash| {
                assert_eq!(stored.get(node), Some(hash), "{node:?}");
                completed += 1;
            });
        }
        assert_eq!(completed, expected);
        assert_eq!(builder.root(), mth(&leaves));
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(
            needs_for_inclusion(3, 3),
            Err(TreeError::NoSuchLeaf { size: 3, leaf: 3 })
        );
        assert_eq!(
            needs_for_consistency(0, 3),
            Err(TreeError::BadSizes { old: 0, new: 3 })
        );
        assert_eq!(
            needs_for_consistency(4, 3),
            Err(TreeError::BadSizes { old: 4, new: 3 })
        );
        assert_eq!(Known::new().root(5), Err(TreeError::Missing(0, 4)));
        assert!(leaf_hash("xyz").is_err());
        assert!(check_inclusion(&[EMPTY_HASH; 65], 10, EMPTY_HASH, 0, EMPTY_HASH).is_err());
    }
}
