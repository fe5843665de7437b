//! The key that signs the audit log's checkpoints: an Ed25519 key in a file of its
//! own, outside the database (mode 0600), so that whoever can rewrite the database
//! cannot sign a history of their own. Its public key is recorded in the database
//! (audited) when the key is first used, so that a server given another key refuses
//! to sign rather than sign a second history.

use std::io::Write;
use std::path::{Path, PathBuf};

use ganglion_core::audit::checkpoint::{private_key_from_seed, LogSigner};

use crate::{App, AppError, Audit, Ctx};

/// The setting holding the public key of the instance's audit key.
pub(crate) const PUBLIC_KEY_SETTING: &str = "audit_public_key";

/// Where the key is looked for when no `--audit-key` is given: next to an SQLite
/// file (`ganglion.db` → `ganglion.db.audit-key`); for PostgreSQL in the data folder
/// (`$XDG_DATA_HOME/ganglion`, else `~/.local/share/ganglion`, else the current
/// folder), named after the database.
pub fn default_audit_key_path(database_url: &str) -> PathBuf {
    if let Some(path) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        return PathBuf::from(format!("{path}.audit-key"));
    }
    let database = database_url
        .split('?')
        .next()
        .and_then(|url| url.rsplit('/').next())
        .filter(|name| !name.is_empty() && !name.contains('@') && !name.contains(':'))
        .unwrap_or("ganglion");
    let name: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let folder = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .map(|data| data.join("ganglion"))
        .unwrap_or_else(|| PathBuf::from("."));
    folder.join(format!("{name}.audit-key"))
}

/// What became of the key when the app was given its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditKeyState {
    /// A new key was made there; the database records its public key.
    Created { path: PathBuf, public_key: String },
    /// The key there is the database's; checkpoints are signed with it.
    Loaded { path: PathBuf, public_key: String },
    /// No key there, and the database has one recorded (on another server, say):
    /// this app signs nothing.
    Absent { path: PathBuf, public_key: String },
    /// No key there and none recorded, and none was to be made.
    None { path: PathBuf },
}

fn key_error(path: &Path, message: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("the audit key {}: {message}", path.display()))
}

/// Reads a key file, refusing one that others may read.
fn read_key(path: &Path) -> Result<LogSigner, AppError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|error| key_error(path, error))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(key_error(
                path,
                format!(
                    "others may read it (mode {:o}); make it private with chmod 600",
                    mode & 0o777
                ),
            ));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|error| key_error(path, error))?;
    LogSigner::new(&text).map_err(|error| key_error(path, error))
}

/// Writes a new key, readable by its owner alone, and flushes it to disk before the
/// database records it.
fn write_new_key(path: &Path) -> Result<LogSigner, AppError> {
    let mut suffix = [0u8; 8];
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut suffix);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let name = format!("ganglion/{}", hex::encode(suffix));
    let private_key = private_key_from_seed(&name, seed).map_err(|error| key_error(path, error))?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|error| key_error(path, error))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| key_error(path, error))?;
    file.write_all(format!("{private_key}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|error| key_error(path, error))?;
    LogSigner::new(&private_key).map_err(|error| key_error(path, error))
}

impl App {
    /// Gives the app the audit key at `path`: loads it, or, when `create` and the
    /// database has no key recorded yet, makes one there. A key that is not the one the
    /// database recorded is refused: signing with it would start a second history.
    pub async fn use_audit_key(
        &self,
        ctx: &Ctx,
        path: &Path,
        create: bool,
    ) -> Result<AuditKeyState, AppError> {
        self.authorize(
            ctx,
            ganglion_core::Action::Write,
            ganglion_core::Resource::Instance,
            "audit key",
            "audit_key.use",
            format!("audit_key:{}", path.display()),
        )
        .await?;
        let recorded = self.store.setting(PUBLIC_KEY_SETTING).await?;
        let (signer, created) = if path.exists() {
            (read_key(path)?, false)
        } else {
            match recorded {
                Some(public_key) => {
                    return Ok(AuditKeyState::Absent {
                        path: path.to_owned(),
                        public_key,
                    })
                }
                None if !create => {
                    return Ok(AuditKeyState::None {
                        path: path.to_owned(),
                    })
                }
                None => (write_new_key(path)?, true),
            }
        };
        let public_key = signer.public_key().to_owned();
        match self.store.setting(PUBLIC_KEY_SETTING).await? {
            Some(known) if known != public_key => {
                return Err(key_error(
                    path,
                    format!(
                        "it is not this database's audit key (the database's public key is {known})"
                    ),
                ))
            }
            Some(_) => {}
            None => {
                let mut tx = self.store.write().await?;
                tx.set_setting(PUBLIC_KEY_SETTING, &public_key).await?;
                let audit = Audit::new("audit_key.record", format!("audit_key:{public_key}"), None);
                self.finish_write(tx, ctx, audit, ()).await?;
            }
        }
        *self
            .audit_signer
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(std::sync::Arc::new(signer));
        let path = path.to_owned();
        Ok(if created {
            AuditKeyState::Created { path, public_key }
        } else {
            AuditKeyState::Loaded { path, public_key }
        })
    }

    /// The key this app signs checkpoints with, if it was given one.
    pub(crate) fn audit_signer(&self) -> Option<std::sync::Arc<LogSigner>> {
        self.audit_signer
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_lies_beside_the_file_or_in_the_data_folder() {
        assert_eq!(
            default_audit_key_path("sqlite://data/ganglion.db"),
            PathBuf::from("data/ganglion.db.audit-key")
        );
        assert_eq!(
            default_audit_key_path("sqlite:///var/lib/g.db?mode=rwc"),
            PathBuf::from("/var/lib/g.db.audit-key")
        );
        let postgres = default_audit_key_path("postgres://me@db.example/org");
        assert!(postgres.ends_with("ganglion/org.audit-key"), "{postgres:?}");
    }
}
