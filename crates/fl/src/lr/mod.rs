//! Vertical (hetero) logistic regression between two parties without a third-party coordinator.
//!
//! The **guest** (a bank) holds the labels `y` and features `X_A`; the **host** (a partner) holds
//! features `X_B` for the same rows, already aligned and in the same order. Neither learns the
//! other's features, weights or the guest's labels; there is no arbiter: each party holds its
//! own additively homomorphic key pair ([`unseen_crypto::he`], Paillier or OU).
//!
//! # Protocol
//!
//! Gradient descent on the second-order Taylor expansion of the logistic loss around 0, as in
//! Hardy et al. 2017 ("Private federated learning on vertically partitioned data via entity
//! resolution and additively homomorphic encryption", arXiv:1711.10677), with labels
//! `y' ∈ {−1, 1}`:
//!
//! ```text
//! ℓ(w) ≈ log 2 − ½·y'·wᵀx + ⅛·(wᵀx)²      ∇ℓ = (¼·wᵀx − ½·y')·x = d·x
//! ```
//!
//! The two-party, coordinator-free exchange follows Yang, Ren, Zhou, Liu 2019 ("Parallel
//! distributed logistic regression for vertical federated learning without third-party
//! coordinator", arXiv:1911.09824): each party encrypts its share of the residual under its
//! *own* key, the other party forms the encrypted gradient of *its own* weights from it, masks it
//! with a random value and has the key owner decrypt it. Per mini-batch `B` (the fixed-point
//! names of [`fixed`]):
//!
//! 1. guest: `T_A,i = U_A,i − 2·y'_i·2^f` (`U_A = round(2^f·X_A w_A)`), sends `[[T_A]]_G`;
//!    host: `T_B,i = U_B,i`, sends `[[T_B]]_H`. Then `D_i = T_A,i + T_B,i = 2^f·4·d_i`.
//! 2. guest, for each of its features `j`: `[[G_A,j + R_A,j]]_H = Σ_i X_A,ij·[[T_B,i]]_H ⊕
//!    Enc_H(Σ_i X_A,ij·T_A,i + R_A,j)` with a fresh mask `R_A,j`, the values of several `j`
//!    packed into one ciphertext ([`fixed::slots`]); the host symmetrically forms
//!    `[[G_B,j + R_B,j]]_G` under the guest's key. Each sends its own.
//! 3. each decrypts the other's masked gradient with its secret key and returns the plaintexts
//!    `M = G + R`; each subtracts its own mask and updates its own weights:
//!    `w_j ← w_j − η·(G_j / (4·2^{2f}·|B|) + λ·w_j)` (no `λ` on the intercept).
//!
//! # What each party learns
//!
//! Per mini-batch, the guest sees `[[T_B]]_H` (semantically secure under the host's key) and
//! `G_B + R_B` (statistically hidden: `R_B` is uniform on [`fixed::MASK_BITS`] bits, 40 more than
//! `|G_B|` can have, so the distance from uniform is below `2^−40`); symmetrically for the host.
//! Hence each party learns its own gradient and weights, nothing per row. Residual leakage, as
//! in every protocol that reveals a party's own gradient (Hardy et al.; Yang et al.):
//! the guest's gradient `X_Aᵀ d` is a linear image of the residuals, which depend on `u_B`; if a
//! batch had no more rows than a party has features, the party could solve for `d` (the host
//! would learn the labels, the guest the host's partial scores), so both refuse a batch with
//! `|B| ≤ max(d_A, d_B)` ([`LrError::BatchTooSmall`]). Both learn `n`, the other's feature count,
//! the hyper-parameters, the shuffle seed, and one convergence bit per epoch. The model is
//! semi-honest: a party that *deviates* (e.g. sends a chosen `[[T]]` instead of its true term)
//! can move values above the mask and learn the other's features; the receivers' range checks
//! ([`LrError::PeerValueOutOfRange`]) catch crude deviations only.
//!
//! The full write-up is `docs/protocols/logistic-regression.md`.

pub mod driver;
pub mod fixed;
pub mod local;
pub mod model;
pub mod msgs;
pub mod reference;
mod train;

pub use driver::{
    GuestOutput, HostOutput, PredictReport, TrainReport, run_guest, run_host, run_predict_guest,
    run_predict_host,
};
pub use model::{LrGuestModel, LrHostModel, ModelId, ParseModelIdError};
pub use train::{LrGuest, LrHost};

use unseen_channel::codec::CodecError;
use unseen_channel::{ChannelError, Fault};

/// Most features one party may have (intercept included).
pub const MAX_FEATURES: usize = 4096;
/// Most rows of a mini-batch (keeps the gradient within [`fixed::GRADIENT_BITS`]).
pub const MAX_BATCH: usize = 1 << 16;
/// Most rows of a training or prediction set.
pub const MAX_ROWS: usize = 1 << 28;
/// Most epochs.
pub const MAX_EPOCHS: u32 = 100_000;
/// Smallest modulus a peer's key may have.
pub const MIN_MODULUS_BITS: u32 = 2048;

/// Hyper-parameters; both parties must pass equal values (the host refuses the guest's
/// otherwise, [`LrError::ConfigMismatch`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrConfig {
    /// Step size `η`.
    pub learning_rate: f64,
    /// Most passes over the data.
    pub epochs: u32,
    /// Rows per mini-batch (`0`: one batch of all rows). The rows are split into
    /// `max(1, ⌊n / batch_size⌋)` batches whose sizes differ by at most one, so none is smaller
    /// than `batch_size`.
    pub batch_size: u32,
    /// L2 penalty `λ` (not applied to the intercept).
    pub l2: f64,
    /// Stop after an epoch in which no weight of either party moved by `tol` or more
    /// (in standardized units); `0` runs all epochs.
    pub tol: f64,
    /// Whether the guest fits an intercept.
    pub fit_intercept: bool,
}

impl Default for LrConfig {
    fn default() -> Self {
        Self {
            learning_rate: 0.15,
            epochs: 20,
            batch_size: 256,
            l2: 0.0,
            tol: 1e-4,
            fit_intercept: true,
        }
    }
}

impl LrConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidConfig`].
    pub fn validate(&self) -> Result<(), LrError> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(LrError::InvalidConfig(
                "learning rate must be finite and > 0",
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(LrError::InvalidConfig("l2 must be finite and >= 0"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(LrError::InvalidConfig("tol must be finite and >= 0"));
        }
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return Err(LrError::InvalidConfig("epochs must be in 1..=100000"));
        }
        if self.batch_size as usize > MAX_BATCH {
            return Err(LrError::InvalidConfig("batch size above 65536"));
        }
        Ok(())
    }

    /// Bit-exact equality (what the host compares).
    pub(crate) fn same_as(&self, o: &Self) -> bool {
        self.learning_rate.to_bits() == o.learning_rate.to_bits()
            && self.epochs == o.epochs
            && self.batch_size == o.batch_size
            && self.l2.to_bits() == o.l2.to_bits()
            && self.tol.to_bits() == o.tol.to_bits()
            && self.fit_intercept == o.fit_intercept
    }
}

/// Errors of logistic regression, sorted by whose fault they are.
///
/// Whose fault each is ([`LrError::fault`]):
/// - partner: a malformed, truncated or out-of-range message, ciphertext, public key or value
///   ([`BadMessage`], [`Decode`], [`BadHello`], [`PeerCrypto`], [`WeakPeerKey`],
///   [`PeerValueOutOfRange`]), and the channel's partner errors;
/// - config: the two sides disagree ([`ConfigMismatch`], [`RowCountMismatch`],
///   [`ModelMismatch`]), or the batch size agreed is too small for the features of both
///   ([`BatchTooSmall`]);
/// - input: local data, model file or hyper-parameters are unusable ([`InvalidInput`],
///   [`InvalidConfig`], [`Diverged`]: the learning rate is too large);
/// - network: the channel's connection errors ([`ChannelError::fault`]);
/// - internal: a call out of protocol order, a broken invariant or a failed local
///   cryptographic operation ([`OutOfOrder`], [`Internal`], [`Crypto`]).
///
/// [`BadMessage`]: LrError::BadMessage
/// [`Decode`]: LrError::Decode
/// [`BadHello`]: LrError::BadHello
/// [`PeerCrypto`]: LrError::PeerCrypto
/// [`WeakPeerKey`]: LrError::WeakPeerKey
/// [`PeerValueOutOfRange`]: LrError::PeerValueOutOfRange
/// [`ConfigMismatch`]: LrError::ConfigMismatch
/// [`RowCountMismatch`]: LrError::RowCountMismatch
/// [`ModelMismatch`]: LrError::ModelMismatch
/// [`BatchTooSmall`]: LrError::BatchTooSmall
/// [`InvalidInput`]: LrError::InvalidInput
/// [`InvalidConfig`]: LrError::InvalidConfig
/// [`Diverged`]: LrError::Diverged
/// [`OutOfOrder`]: LrError::OutOfOrder
/// [`Internal`]: LrError::Internal
/// [`Crypto`]: LrError::Crypto
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LrError {
    // --- the peer's fault ---
    /// A message has the wrong length for what this step expects.
    #[error("malformed {what}: {len} bytes, expected {expected}")]
    BadMessage {
        /// Which message.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length this step requires.
        expected: usize,
    },
    /// A message is malformed in another way than its length (e.g. a length it announces is
    /// above the step's maximum). Truncated messages and trailing bytes are
    /// [`LrError::BadMessage`].
    #[error("malformed message from peer: {0}")]
    Decode(CodecError),
    /// A handshake field is out of range.
    #[error("bad handshake: {0}")]
    BadHello(&'static str),
    /// A ciphertext or public key from the peer is invalid (e.g. not below the modulus).
    #[error("invalid {what} from the peer: {source}")]
    PeerCrypto {
        /// Which message.
        what: &'static str,
        /// The decoder's reason.
        source: unseen_crypto::Error,
    },
    /// The peer's key is too small for security or for the fixed-point values.
    #[error("peer key too weak: {modulus_bits}-bit modulus, {plaintext_bits}-bit plaintexts")]
    WeakPeerKey {
        /// Modulus bits.
        modulus_bits: u32,
        /// Plaintext bits.
        plaintext_bits: u32,
    },
    /// A value the peer sent (or had us decrypt) is outside the range an honest run produces.
    #[error("peer value out of range: {0}")]
    PeerValueOutOfRange(&'static str),
    /// The peer's hyper-parameters differ from ours.
    #[error("peer's hyper-parameters differ from ours: {0}")]
    ConfigMismatch(&'static str),
    /// The parties hold different numbers of rows.
    #[error("row counts differ: we hold {ours}, the peer {theirs}")]
    RowCountMismatch {
        /// Our rows.
        ours: u64,
        /// The peer's rows.
        theirs: u64,
    },
    /// A mini-batch would let a party solve for the per-row residuals.
    #[error("mini-batches of {rows} rows are not larger than a party's {features} features")]
    BatchTooSmall {
        /// Rows of the smallest batch.
        rows: usize,
        /// The larger feature count.
        features: usize,
    },
    /// The two model parts do not belong to the same model.
    #[error("model parts differ: ours {ours}, the peer's {theirs}")]
    ModelMismatch {
        /// Our model id.
        ours: ModelId,
        /// The peer's model id.
        theirs: ModelId,
    },
    // --- the local caller's fault ---
    /// Invalid local input (data shape, non-finite values, bad model file).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// Invalid hyper-parameters.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// A linear term left the fixed-point range (learning rate too large).
    #[error("training diverged: |wᵀx| ≥ {limit} in epoch {epoch}")]
    Diverged {
        /// The epoch (from 0).
        epoch: u32,
        /// The bound.
        limit: f64,
    },
    /// A method was called out of protocol order.
    #[error("protocol misuse: {0}")]
    OutOfOrder(&'static str),
    /// A state the invariants rule out.
    #[error("internal error: {0} (this is a bug, please report it)")]
    Internal(&'static str),
    // --- elsewhere ---
    /// The channel failed (including the peer's wrong step or oversized frame).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A local cryptographic operation failed.
    #[error("homomorphic encryption failed: {0}")]
    Crypto(#[from] unseen_crypto::Error),
}

impl From<CodecError> for LrError {
    /// A truncated message or trailing bytes are [`LrError::BadMessage`] (what the decoders
    /// always reported), anything else [`LrError::Decode`].
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Truncated {
                what,
                len,
                expected,
            }
            | CodecError::Trailing {
                what,
                len,
                expected,
            } => Self::BadMessage {
                what,
                len,
                expected,
            },
            e => Self::Decode(e),
        }
    }
}

impl LrError {
    /// Whose fault this is (see [`LrError`]'s documentation for the mapping).
    pub fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            Self::BadMessage { .. }
            | Self::Decode(_)
            | Self::BadHello(_)
            | Self::PeerCrypto { .. }
            | Self::WeakPeerKey { .. }
            | Self::PeerValueOutOfRange(_) => Fault::Partner,
            Self::ConfigMismatch(_)
            | Self::RowCountMismatch { .. }
            | Self::ModelMismatch { .. }
            | Self::BatchTooSmall { .. } => Fault::Config,
            Self::InvalidInput(_) | Self::InvalidConfig(_) | Self::Diverged { .. } => Fault::Input,
            Self::OutOfOrder(_) | Self::Internal(_) | Self::Crypto(_) => Fault::Internal,
        }
    }
}
