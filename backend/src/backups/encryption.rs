//! Encrypted archives, with age (X25519 recipients, as `age-keygen` makes them).
//!
//! With BACKUP_ENCRYPTION_RECIPIENTS set, `pg_dump`'s output is encrypted as it streams into the
//! archive's `.partial` file: no plaintext byte reaches the disk or the git remote, and the size
//! and SHA-256 recorded are the encrypted file's. Restoring and verifying decrypt with the
//! identity of BACKUP_DECRYPTION_IDENTITY_FILE, streaming the plaintext into `pg_restore`'s
//! standard input (never into a file).
//!
//! Whether an archive is encrypted is read from its first bytes (age's header), not from its
//! name or the settings, so a server restores both kinds whatever its settings are today.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use age::x25519;
use anyhow::{bail, Context as _};

/// How archives are encrypted and decrypted.
#[derive(Debug, Clone, Default)]
pub struct Encryption {
    /// Every new archive is encrypted to these keys; none: archives are written in plain.
    pub recipients: Vec<x25519::Recipient>,
    /// The age identity file that decrypts encrypted archives on restore and verify.
    pub identity_file: Option<PathBuf>,
}

/// The first line of every age file.
const AGE_MAGIC: &[u8] = b"age-encryption.org/";

/// One public key of BACKUP_ENCRYPTION_RECIPIENTS.
pub fn parse_recipient(value: &str) -> Result<x25519::Recipient, String> {
    value.trim().parse().map_err(|err| format!("`{}` is not an age public key (age1…): {err}", value.trim()))
}

/// Whether the file at `path` is an age file rather than a plain `pg_dump` archive.
pub fn is_encrypted(path: &Path) -> anyhow::Result<bool> {
    let mut start = [0u8; AGE_MAGIC.len()];
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open the archive {}", path.display()))?;
    let mut read = 0;
    while read < start.len() {
        match file.read(&mut start[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(&start[..read] == AGE_MAGIC)
}

/// The warning `serve` logs when backups leave the host unencrypted.
pub fn unencrypted_remote_warning(settings: &super::BackupSettings) -> Option<&'static str> {
    (settings.git.is_some() && settings.encryption.recipients.is_empty()).then_some(
        "BACKUP_GIT_REMOTE is set without BACKUP_ENCRYPTION_RECIPIENTS: archives holding password hashes, TOTP \
         secrets and customer data are pushed off this host in plain; set age recipients to encrypt them",
    )
}

/// Encrypts everything `plaintext` yields to `recipients` into a new file at `target`.
/// Blocking: run it off the async runtime.
pub fn encrypt_into(plaintext: impl Read, target: &Path, recipients: &[x25519::Recipient]) -> anyhow::Result<()> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .context("cannot encrypt to BACKUP_ENCRYPTION_RECIPIENTS")?;
    let file = std::fs::File::create(target).with_context(|| format!("cannot create {}", target.display()))?;
    let mut writer = encryptor.wrap_output(std::io::BufWriter::new(file))?;
    std::io::copy(&mut BufReader::new(plaintext), &mut writer).context("cannot encrypt the archive")?;
    writer.finish()?.into_inner().map_err(|err| err.into_error())?.sync_all()?;
    Ok(())
}

/// Decrypts the age file `archive` with the identities of `identity_file` into `plaintext`.
/// Blocking: run it off the async runtime.
pub fn decrypt_into(archive: &Path, identity_file: &Path, mut plaintext: impl Write) -> anyhow::Result<()> {
    let identities = read_identities(identity_file)?;
    let file =
        std::fs::File::open(archive).with_context(|| format!("cannot open the archive {}", archive.display()))?;
    let decryptor = age::Decryptor::new_buffered(BufReader::new(file)).context("not a readable age file")?;
    let mut reader = decryptor.decrypt(identities.iter().map(|identity| identity.as_ref())).context(
        "cannot decrypt the archive with BACKUP_DECRYPTION_IDENTITY_FILE (is it the key it was encrypted to?)",
    )?;
    std::io::copy(&mut reader, &mut plaintext)?;
    plaintext.flush()?;
    Ok(())
}

fn read_identities(path: &Path) -> anyhow::Result<Vec<Box<dyn age::Identity>>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read BACKUP_DECRYPTION_IDENTITY_FILE {}", path.display()))?;
    let identities = age::IdentityFile::from_buffer(BufReader::new(file))
        .and_then(|file| file.into_identities().map_err(std::io::Error::other))
        .with_context(|| format!("BACKUP_DECRYPTION_IDENTITY_FILE {} holds no age identity", path.display()))?;
    if identities.is_empty() {
        bail!("BACKUP_DECRYPTION_IDENTITY_FILE {} holds no age identity", path.display());
    }
    Ok(identities)
}

/// At `serve`'s start: warns when archives would leave the host in plain, and fails clearly when
/// the identity file is configured but unusable.
pub fn check_at_start(settings: &super::BackupSettings) -> anyhow::Result<()> {
    if let Some(warning) = unencrypted_remote_warning(settings) {
        tracing::warn!("{warning}");
    }
    match &settings.encryption.identity_file {
        Some(path) => read_identities(path).map(drop),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backups::{BackupSettings, GitRemote};

    #[test]
    fn a_remote_without_recipients_is_warned_about() {
        let remote = GitRemote { url: "/srv/backups.git".to_owned().into(), branch: "main".into() };
        let plain_remote = BackupSettings { git: Some(remote.clone()), ..Default::default() };
        assert!(unencrypted_remote_warning(&plain_remote).unwrap().contains("BACKUP_ENCRYPTION_RECIPIENTS"));
        let recipient = x25519::Identity::generate().to_public();
        let encrypted_remote = BackupSettings {
            git: Some(remote),
            encryption: Encryption { recipients: vec![recipient], identity_file: None },
            ..Default::default()
        };
        assert_eq!(unencrypted_remote_warning(&encrypted_remote), None);
        assert_eq!(unencrypted_remote_warning(&BackupSettings::default()), None, "nothing leaves the host");
    }

    #[test]
    fn recipients_are_age_public_keys() {
        let key = x25519::Identity::generate().to_public().to_string();
        assert_eq!(parse_recipient(&format!(" {key} ")).unwrap().to_string(), key);
        let err = parse_recipient("AGE-SECRET-KEY-1QQQ").unwrap_err();
        assert!(err.contains("not an age public key"), "{err}");
    }
}
