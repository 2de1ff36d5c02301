//! The suite chosen at run time: one type over both OPRF groups, so that a caller that reads
//! the group from a file header, a flag or a partner's proposal never matches on it.
//!
//! Each group comes with its record AEAD ([`aead_for`]): ristretto255-SHA512 with AES-256-GCM,
//! SM2-SM3 with SM4-GCM (the 国密 profile). [`AnyServer`] holds a table in either suite;
//! [`run_any_server`] serves it and [`query_any`] runs a client session against one.

use std::path::Path;

use rand_core::CryptoRng;
use unseen_channel::Channel;
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::{OprfSuite, ServerKey};
use unseen_crypto::{CurveId, Ristretto255, Sm2};

use super::{
    ClientConfig, HintCache, HintSent, KeywordServer, LookupMode, ServerLimits, ServerReport,
    SyncReport, TableConfig, TableInfo, lookup, receive_setup, stored_version,
};
use crate::PirError;

/// The record AEAD that goes with an OPRF group.
pub const fn aead_for(curve: CurveId) -> AeadAlg {
    match curve {
        CurveId::Ristretto255 => AeadAlg::Aes256Gcm,
        CurveId::Sm2 => AeadAlg::Sm4Gcm,
    }
}

/// A keyword-PIR table in either suite.
pub enum AnyServer {
    /// ristretto255-SHA512 OPRF, AES-256-GCM records.
    Ristretto255(KeywordServer<Ristretto255>),
    /// SM2-SM3 OPRF, SM4-GCM records (国密).
    Sm2(KeywordServer<Sm2>),
}

/// Calls `$e` with the table of whichever suite `$s` holds, bound to `$t`.
macro_rules! each {
    ($s:expr, $t:ident => $e:expr) => {
        match $s {
            AnyServer::Ristretto255($t) => $e,
            AnyServer::Sm2($t) => $e,
        }
    };
}

impl AnyServer {
    /// Builds a fresh table in `curve`'s suite with a new OPRF key, records up to
    /// `max_record_len` bytes, at most `duplicates` per key, and public `metadata`.
    ///
    /// # Errors
    ///
    /// As [`KeywordServer::build`] and [`KeywordServer::set_metadata`].
    pub fn build<R: CryptoRng + ?Sized>(
        curve: CurveId,
        entries: &[(&[u8], &[u8])],
        (max_record_len, duplicates): (usize, u8),
        metadata: Vec<u8>,
        rng: &mut R,
    ) -> Result<Self, PirError> {
        fn go<S: OprfSuite, R: CryptoRng + ?Sized>(
            entries: &[(&[u8], &[u8])],
            config: TableConfig,
            metadata: Vec<u8>,
            rng: &mut R,
        ) -> Result<KeywordServer<S>, PirError> {
            let key = ServerKey::<S>::generate(rng);
            let mut t = KeywordServer::build(key, entries, config, rng)?;
            t.set_metadata(metadata)?;
            Ok(t)
        }
        let config = TableConfig {
            aead: aead_for(curve),
            max_record_len,
            duplicates,
        };
        Ok(match curve {
            CurveId::Ristretto255 => Self::Ristretto255(go(entries, config, metadata, rng)?),
            CurveId::Sm2 => Self::Sm2(go(entries, config, metadata, rng)?),
        })
    }

    /// Loads the table saved in `path`, in whichever suite its header names.
    ///
    /// # Errors
    ///
    /// As [`stored_version`] and [`KeywordServer::load`].
    pub fn load(path: &Path) -> Result<Self, PirError> {
        Ok(match stored_version(path)?.suite {
            CurveId::Ristretto255 => Self::Ristretto255(KeywordServer::load(path)?),
            CurveId::Sm2 => Self::Sm2(KeywordServer::load(path)?),
        })
    }

    /// Saves the table (atomically, mode 0600).
    ///
    /// # Errors
    ///
    /// As [`KeywordServer::save`].
    pub fn save(&self, path: &Path) -> Result<(), PirError> {
        each!(self, t => t.save(path))
    }

    /// Replaces the public metadata.
    ///
    /// # Errors
    ///
    /// As [`KeywordServer::set_metadata`].
    pub fn set_metadata(&mut self, meta: Vec<u8>) -> Result<(), PirError> {
        each!(self, t => t.set_metadata(meta))
    }

    /// Brings the table to exactly `entries`, in place when it can.
    ///
    /// # Errors
    ///
    /// As [`KeywordServer::sync`].
    pub fn sync<R: CryptoRng + ?Sized>(
        &mut self,
        entries: &[(&[u8], &[u8])],
        rng: &mut R,
    ) -> Result<SyncReport, PirError> {
        each!(self, t => t.sync(entries, rng))
    }

    /// Public facts about the table.
    pub fn info(&self) -> TableInfo {
        each!(self, t => t.info())
    }

    /// The table's OPRF group.
    pub fn curve(&self) -> CurveId {
        match self {
            Self::Ristretto255(_) => CurveId::Ristretto255,
            Self::Sm2(_) => CurveId::Sm2,
        }
    }
}

/// Serves one client session from `table` ([`super::run_server`] in its suite).
///
/// # Errors
///
/// As [`super::run_server`].
pub fn run_any_server<C: Channel>(
    ch: &mut C,
    table: &AnyServer,
    limits: &ServerLimits,
) -> Result<ServerReport, PirError> {
    each!(table, t => super::run_server(ch, t, limits))
}

/// What a client session received.
pub struct AnyQuery {
    /// Per key, its records (empty: not found).
    pub records: Vec<Vec<Vec<u8>>>,
    /// Which hint the server sent.
    pub hint: HintSent,
    /// The hint to cache for the next session, when one came.
    pub hint_cache: Option<HintCache>,
}

/// Why a client session stopped.
pub enum Stop<E> {
    /// The protocol failed.
    Pir(PirError),
    /// The caller's check of the table's metadata refused it (the session was ended with no key
    /// looked up).
    Check(E),
}

impl<E> From<PirError> for Stop<E> {
    fn from(e: PirError) -> Self {
        Self::Pir(e)
    }
}

/// Runs one client session in `curve`'s suite: receives the setup (with the cached hint
/// `held`), lets `check` see the table's public metadata before any key is looked up (its
/// refusal ends the session with none), then looks `keys` up.
///
/// # Errors
///
/// [`Stop::Pir`] as [`receive_setup`] and [`lookup`]; [`Stop::Check`] with `check`'s refusal.
pub fn query_any<C, R, T, E>(
    ch: &mut C,
    curve: CurveId,
    (mode, held): (LookupMode, Option<HintCache>),
    keys: &[&[u8]],
    check: &dyn Fn(&[u8]) -> Result<T, E>,
    rng: &mut R,
) -> Result<(AnyQuery, T), Stop<E>>
where
    C: Channel,
    R: CryptoRng + ?Sized,
{
    fn go<S: OprfSuite, C: Channel, R: CryptoRng + ?Sized, T, E>(
        ch: &mut C,
        (mode, held): (LookupMode, Option<HintCache>),
        keys: &[&[u8]],
        check: &dyn Fn(&[u8]) -> Result<T, E>,
        rng: &mut R,
        aead: AeadAlg,
    ) -> Result<(AnyQuery, T), Stop<E>> {
        let session = receive_setup::<S, C>(ch, ClientConfig::new(aead), mode, held)?;
        let checked = match check(&session.setup().metadata) {
            Ok(t) => t,
            Err(e) => {
                // End the session cleanly: the server evaluates nothing.
                let _ = lookup(ch, &session, &[], rng);
                return Err(Stop::Check(e));
            }
        };
        let records = lookup(ch, &session, keys, rng)?;
        let hint = HintSent::from(session.setup().hint);
        let hint_cache = session.into_hint_cache();
        Ok((
            AnyQuery {
                records,
                hint,
                hint_cache,
            },
            checked,
        ))
    }
    let aead = aead_for(curve);
    match curve {
        CurveId::Ristretto255 => {
            go::<Ristretto255, C, R, T, E>(ch, (mode, held), keys, check, rng, aead)
        }
        CurveId::Sm2 => go::<Sm2, C, R, T, E>(ch, (mode, held), keys, check, rng, aead),
    }
}
