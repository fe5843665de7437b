//! Signed checkpoints of the audit log: the tree's size and root in the
//! c2sp.org/tlog-checkpoint form, signed as a c2sp.org/signed-note with the instance's
//! Ed25519 key. A checkpoint handed out commits the log to its first `size` entries;
//! whoever holds one and the public key can check any later state of the log against
//! it, without trusting the server or its database.
//!
//! The keys are spelled as signed notes spell them: the private key
//! `PRIVATE+KEY+<name>+<id>+<base64>` (kept in a file, never in the database) and the
//! public key `<name>+<id>+<base64>`; the name is also the checkpoints' origin line.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use signed_note::{Note, Signer, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// Why a key or a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the private key is not a signed-note Ed25519 key (PRIVATE+KEY+name+id+key)")]
    BadPrivateKey,
    #[error("the public key is not a signed-note Ed25519 key (name+id+key)")]
    BadPublicKey,
    #[error("the checkpoint is not a signed note: {0}")]
    Malformed(String),
    #[error("the checkpoint is not signed by the key {0}")]
    NotSigned(String),
    #[error("the checkpoint's origin {origin:?} is not the key's name {name:?}")]
    WrongOrigin { origin: String, name: String },
}

/// What a checkpoint says: how many entries the log had, and the root over them.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// The key that signs checkpoints.
#[derive(Clone)]
pub struct LogSigner {
    signer: StandardSigner,
    public_key: String,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private half never shows, not even in a log line.
        f.debug_struct("LogSigner")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// The signer of a private key as a key file holds it.
    pub fn new(private_key: &str) -> Result<Self, CheckpointError> {
        let private_key = private_key.trim();
        let signer =
            StandardSigner::new(private_key).map_err(|_| CheckpointError::BadPrivateKey)?;
        let public_key = public_key_of(private_key).ok_or(CheckpointError::BadPrivateKey)?;
        Ok(Self { signer, public_key })
    }

    /// The public key, for whoever checks the checkpoints.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The log's name: the origin line of its checkpoints.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// The signed note of the tree head `(size, root)`.
    pub fn sign(&self, size: u64, root: Hash) -> String {
        let body = Checkpoint::new(self.signer.name(), size, root, "")
            .expect("a key's name is a valid origin")
            .to_bytes();
        let mut note = Note::new(&body, &[]).expect("a checkpoint is a valid note text");
        note.add_sigs(&[&self.signer])
            .expect("an Ed25519 key signs any text");
        String::from_utf8(note.to_bytes()).expect("a note is UTF-8")
    }
}

/// The public key of a private key, spelled as signed notes spell it.
fn public_key_of(private_key: &str) -> Option<String> {
    let mut parts = private_key.splitn(5, '+');
    let (_, _, name, _, key) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let bytes = BASE64.decode(key).ok()?;
    let (algorithm, secret) = bytes.split_first()?;
    if *algorithm != ALGORITHM_ED25519 {
        return None;
    }
    let secret: [u8; 32] = secret.try_into().ok()?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
    Some(signed_note::new_ed25519_verifier_key(
        name,
        &signing.verifying_key(),
    ))
}

/// The signed-note algorithm byte of Ed25519.
const ALGORITHM_ED25519: u8 = 1;

/// A new private key named `name`, from 32 random bytes the caller draws (this crate
/// does no I/O, the system's randomness included), spelled as a key file holds it.
pub fn private_key_from_seed(name: &str, seed: [u8; 32]) -> Result<String, CheckpointError> {
    if !is_valid_name(name) {
        return Err(CheckpointError::BadPrivateKey);
    }
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = [
        &[ALGORITHM_ED25519],
        signing.verifying_key().as_bytes().as_slice(),
    ]
    .concat();
    let private = [&[ALGORITHM_ED25519], seed.as_slice()].concat();
    Ok(format!(
        "PRIVATE+KEY+{name}+{:08x}+{}",
        signed_note::key_id(name, &public),
        BASE64.encode(private)
    ))
}

/// The key that checks checkpoints: a public key alone.
#[derive(Clone)]
pub struct LogVerifier {
    verifier: StandardVerifier,
    public_key: String,
}

impl std::fmt::Debug for LogVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogVerifier")
            .field("public_key", &self.public_key)
            .finish()
    }
}

impl LogVerifier {
    pub fn new(public_key: &str) -> Result<Self, CheckpointError> {
        let public_key = public_key.trim();
        let verifier =
            StandardVerifier::new(public_key).map_err(|_| CheckpointError::BadPublicKey)?;
        Ok(Self {
            verifier,
            public_key: public_key.to_owned(),
        })
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The tree head a signed checkpoint states, once its signature by this key and its
    /// origin are checked.
    pub fn open(&self, note: &str) -> Result<TreeHead, CheckpointError> {
        use signed_note::Verifier;
        let parsed = Note::from_bytes(note.as_bytes())
            .map_err(|error| CheckpointError::Malformed(error.to_string()))?;
        let known = VerifierList::new(vec![Box::new(self.verifier.clone())]);
        parsed
            .verify(&known)
            .map_err(|_| CheckpointError::NotSigned(self.public_key.clone()))?;
        let checkpoint = Checkpoint::from_bytes(parsed.text())
            .map_err(|error| CheckpointError::Malformed(error.to_string()))?;
        if checkpoint.origin() != self.verifier.name() {
            return Err(CheckpointError::WrongOrigin {
                origin: checkpoint.origin().to_owned(),
                name: self.verifier.name().to_owned(),
            });
        }
        Ok(TreeHead {
            size: checkpoint.size(),
            root: *checkpoint.hash(),
        })
    }
}

/// Whether a log name may name a key: non-empty, without spaces or `+`.
pub fn is_valid_name(name: &str) -> bool {
    signed_note::is_key_name_valid(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LogSigner {
        LogSigner::new(&private_key_from_seed("ganglion/test", [7; 32]).unwrap()).unwrap()
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_public_key_alone() {
        let signer = signer();
        assert!(signer.public_key().starts_with("ganglion/test+"));
        let root = tlog_tiles::record_hash(b"entry");
        let note = signer.sign(42, root);
        // The c2sp.org/tlog-checkpoint body, then the signature line.
        let mut lines = note.lines();
        assert_eq!(lines.next(), Some("ganglion/test"));
        assert_eq!(lines.next(), Some("42"));
        assert_eq!(lines.next(), Some(root.to_string().as_str()));
        assert_eq!(lines.next(), Some(""));
        assert!(lines.next().unwrap().starts_with("\u{2014} ganglion/test "));
        let verifier = LogVerifier::new(signer.public_key()).unwrap();
        assert_eq!(verifier.open(&note).unwrap(), TreeHead { size: 42, root });
        assert!(format!("{signer:?}").contains("public_key"));
        assert!(!format!("{signer:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_changed_checkpoint_or_another_key_is_refused() {
        let signer = signer();
        let note = signer.sign(42, tlog_tiles::record_hash(b"entry"));
        let verifier = LogVerifier::new(signer.public_key()).unwrap();
        let changed = note.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(
            verifier.open(&changed),
            Err(CheckpointError::NotSigned(_))
        ));
        let other =
            LogSigner::new(&private_key_from_seed("ganglion/test", [8; 32]).unwrap()).unwrap();
        let forged = other.sign(42, tlog_tiles::record_hash(b"entry"));
        assert!(verifier.open(&forged).is_err());
        assert!(verifier.open("not a note").is_err());
        assert_eq!(
            LogVerifier::new("nonsense").unwrap_err(),
            CheckpointError::BadPublicKey
        );
        assert_eq!(
            LogSigner::new("PRIVATE+KEY+x").unwrap_err(),
            CheckpointError::BadPrivateKey
        );
        assert!(private_key_from_seed("has space", [1; 32]).is_err());
    }
}
