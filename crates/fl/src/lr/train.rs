//! The sans-I/O training roles [`LrGuest`] and [`LrHost`].
//!
//! After the handshake the two roles are symmetric (the module doc of [`super`] gives the
//! steps); both wrap one private core. Per mini-batch each role is driven through
//! [`LrGuest::start_batch`] (step 1: own terms, encrypted under the own key) →
//! [`LrGuest::on_peer_terms`] (step 2: own masked gradient under the peer's key) →
//! [`LrGuest::on_peer_gradient`] (step 3: the peer's masked gradient, decrypted) →
//! [`LrGuest::on_masked`] (unmask, update); after the epoch's last batch
//! [`LrGuest::end_epoch`] and [`LrGuest::on_peer_flag`].

use rand_core::CryptoRng;
use rayon::prelude::*;
use unseen_crypto::he::{HePublicKey, HeSecretKey, Plaintext, linear_combination, sum};
use zeroize::Zeroize;

use super::fixed::{self, GRADIENT_BITS, MASK_BITS, MASKED_BITS, Standardizer};
use super::msgs::{GuestHello, HostHello, decode_public_key};
use super::{LrConfig, LrError, LrGuestModel, LrHostModel, MAX_FEATURES, ModelId};

/// A ciphertext under key `S`.
type Ct<S> = <<S as HeSecretKey>::Public as HePublicKey>::Ciphertext;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Handshake,
    BatchStart,
    PeerTerms,
    PeerGradient,
    Masked,
    EpochEnd,
    PeerFlag,
    Done,
}

/// The state both roles share.
struct Core<'k, S: HeSecretKey> {
    key: &'k S,
    peer: Option<S::Public>,
    peer_features: usize,
    /// Fixed-point design matrix, row-major, `d` per row.
    x: Vec<i64>,
    n: usize,
    d: usize,
    /// Guest only: the labels (`true` = positive).
    labels: Option<Vec<bool>>,
    standardizer: Standardizer,
    intercept: bool,
    w: Vec<f64>,
    config: LrConfig,
    seed: [u8; 32],
    model_id: ModelId,
    epoch: u32,
    batch: usize,
    order: Vec<usize>,
    epoch_start: Vec<f64>,
    rows: Vec<usize>,
    terms: Vec<i64>,
    masks: Vec<i128>,
    own_flag: bool,
    converged: bool,
    phase: Phase,
}

impl<S: HeSecretKey> Core<'_, S> {
    fn expect(&self, p: Phase, what: &'static str) -> Result<(), LrError> {
        if self.phase == p {
            Ok(())
        } else {
            Err(LrError::OutOfOrder(what))
        }
    }

    fn peer(&self) -> Result<&S::Public, LrError> {
        self.peer
            .as_ref()
            .ok_or(LrError::OutOfOrder("no peer key before the handshake"))
    }

    fn batches(&self) -> usize {
        fixed::batch_count(self.n, self.config.batch_size)
    }

    /// Accepts the peer's key and feature count; checks the batch size against both counts.
    fn accept_peer(&mut self, features: u32, key: &[u8]) -> Result<(), LrError> {
        let pk = decode_public_key::<S::Public>(key)?;
        let pf = features as usize;
        let rows = fixed::smallest_batch(self.n, self.config.batch_size);
        let most = pf.max(self.d);
        if rows <= most {
            return Err(LrError::BatchTooSmall {
                rows,
                features: most,
            });
        }
        self.peer = Some(pk);
        self.peer_features = pf;
        self.phase = Phase::BatchStart;
        Ok(())
    }

    fn batch_len(&self) -> usize {
        let (a, b) = fixed::batch_bounds(self.n, self.batches(), self.batch);
        b - a
    }

    fn start_batch(&mut self) -> Result<Vec<Ct<S>>, LrError> {
        self.expect(Phase::BatchStart, "start_batch")?;
        if self.batch == 0 {
            self.order = fixed::permutation(&self.seed, self.epoch, self.n);
            self.epoch_start.clone_from(&self.w);
        }
        let (a, b) = fixed::batch_bounds(self.n, self.batches(), self.batch);
        self.rows = self.order[a..b].to_vec();
        let d = self.d;
        let mut terms = Vec::with_capacity(self.rows.len());
        for &i in &self.rows {
            let u = fixed::linear(&self.w, &self.x[i * d..(i + 1) * d]);
            let mut t = fixed::encode_linear(u, self.epoch)?;
            if let Some(y) = &self.labels {
                t += fixed::label_term(y[i]);
            }
            terms.push(t);
        }
        let pts: Vec<Plaintext> = terms
            .iter()
            .map(|&t| Plaintext::from_i128(t.into()))
            .collect();
        self.terms.zeroize();
        self.terms = terms;
        let cts = self.key.public().encrypt_batch(&pts)?;
        self.phase = Phase::PeerTerms;
        Ok(cts)
    }

    fn on_peer_terms<R: CryptoRng + ?Sized>(
        &mut self,
        peer_terms: &[Ct<S>],
        rng: &mut R,
    ) -> Result<Vec<Ct<S>>, LrError> {
        self.expect(Phase::PeerTerms, "on_peer_terms")?;
        if peer_terms.len() != self.rows.len() {
            return Err(LrError::BadMessage {
                what: "terms",
                len: peer_terms.len(),
                expected: self.rows.len(),
            });
        }
        let shift = 128 - MASK_BITS;
        self.masks = (0..self.d)
            .map(|_| {
                let r = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) >> shift;
                // 2^78 + r < 2^119: fits i128.
                i128::try_from(r).unwrap_or(0) + (1i128 << GRADIENT_BITS)
            })
            .collect();
        let pk = self.peer()?.clone();
        let (d, x, rows, terms, masks) = (self.d, &self.x, &self.rows, &self.terms, &self.masks);
        // Coefficients are shifted to be non-negative, `X' = X + o` with `o` a power of two at
        // least every `|X|` of the batch, so each feature's sum is one linear combination;
        // `−o·Σ_i [[T_peer,i]]` (computed once per batch) takes the shift back out.
        let top = rows
            .iter()
            .flat_map(|&i| &x[i * d..(i + 1) * d])
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap_or(0);
        let offset = top.next_power_of_two();
        let unshift = pk.mul_plain(
            &sum(&pk, peer_terms),
            &Plaintext::from_i128(-i128::from(offset)),
        )?;
        // Per feature j: the encrypted part Σ_i X_ij·[[T_peer,i]] and the plaintext part
        // Σ_i X_ij·T_own,i + R_j (positive: R_j > 2^78 > |Σ X·T_own|).
        let parts: Result<Vec<(Ct<S>, u128)>, LrError> = (0..d)
            .into_par_iter()
            .map(|j| {
                let mut coeffs = Vec::with_capacity(rows.len());
                let mut plain = masks[j];
                for (k, &i) in rows.iter().enumerate() {
                    let xij = x[i * d + j];
                    // |X| ≤ offset ≤ 2^27: the shifted value is non-negative and small.
                    coeffs.push(offset.saturating_add_signed(xij));
                    plain += i128::from(terms[k]) * i128::from(xij);
                }
                let mut acc = linear_combination(&pk, peer_terms, &coeffs);
                pk.add_assign(&mut acc, &unshift);
                let plain = u128::try_from(plain)
                    .map_err(|_| LrError::Internal("masked plaintext part is negative"))?;
                Ok((acc, plain))
            })
            .collect();
        let parts = parts?;
        // Pack `slots` features per ciphertext (Horner: acc ← acc·2^120 + part, top slot
        // first), then add one fresh encryption of the packed plaintext parts, which also
        // re-randomises the sum.
        let per = fixed::slots(pk.plaintext_bits());
        let shift = Plaintext::pack(&[0, 1], fixed::SLOT_BITS)?;
        let out: Result<Vec<Ct<S>>, LrError> = parts
            .par_chunks(per)
            .map(|chunk| {
                let mut acc = pk.zero();
                for (i, (c, _)) in chunk.iter().enumerate().rev() {
                    if i + 1 < chunk.len() {
                        acc = pk.mul_plain(&acc, &shift)?;
                    }
                    pk.add_assign(&mut acc, c);
                }
                let plain: Vec<u128> = chunk.iter().map(|(_, p)| *p).collect();
                let e = pk.encrypt(&Plaintext::pack(&plain, fixed::SLOT_BITS)?)?;
                pk.add_assign(&mut acc, &e);
                Ok(acc)
            })
            .collect();
        self.phase = Phase::PeerGradient;
        out
    }

    fn on_peer_gradient(&mut self, cts: &[Ct<S>]) -> Result<Vec<i128>, LrError> {
        self.expect(Phase::PeerGradient, "on_peer_gradient")?;
        let pt_bits = self.key.public().plaintext_bits();
        let expected = fixed::packed_count(self.peer_features, pt_bits);
        if cts.len() != expected {
            return Err(LrError::BadMessage {
                what: "gradient",
                len: cts.len(),
                expected,
            });
        }
        let per = fixed::slots(pt_bits);
        let mut out = Vec::with_capacity(self.peer_features);
        for (k, p) in self.key.decrypt_batch(cts).iter().enumerate() {
            let n = (self.peer_features - k * per).min(per);
            // Nothing above the last slot, each slot below 2^119.
            let width = u32::try_from(n).unwrap_or(u32::MAX) * fixed::SLOT_BITS;
            let bad = || LrError::PeerValueOutOfRange("decrypted masked gradient");
            if p.is_negative() || p.bits() > width {
                return Err(bad());
            }
            for v in p.unpack(fixed::SLOT_BITS, n)? {
                if v >> MASKED_BITS != 0 {
                    return Err(bad());
                }
                out.push(i128::try_from(v).map_err(|_| bad())?);
            }
        }
        self.phase = Phase::Masked;
        Ok(out)
    }

    fn on_masked(&mut self, masked: &[i128]) -> Result<(), LrError> {
        self.expect(Phase::Masked, "on_masked")?;
        if masked.len() != self.d {
            return Err(LrError::BadMessage {
                what: "masked gradient",
                len: masked.len(),
                expected: self.d,
            });
        }
        let rows = self.rows.len();
        let g = masked
            .iter()
            .zip(&self.masks)
            .map(|(m, r)| {
                let v = m - r;
                if v.unsigned_abs() >> GRADIENT_BITS == 0 {
                    Ok(fixed::gradient(v, rows))
                } else {
                    Err(LrError::PeerValueOutOfRange("unmasked gradient"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        fixed::update(&mut self.w, &g, &self.config, self.intercept);
        self.masks.zeroize();
        self.batch += 1;
        self.phase = if self.batch == self.batches() {
            Phase::EpochEnd
        } else {
            Phase::BatchStart
        };
        Ok(())
    }

    fn end_epoch(&mut self) -> Result<bool, LrError> {
        self.expect(Phase::EpochEnd, "end_epoch")?;
        self.own_flag = fixed::converged(&self.epoch_start, &self.w, self.config.tol);
        self.phase = Phase::PeerFlag;
        Ok(self.own_flag)
    }

    fn on_peer_flag(&mut self, peer: bool) -> Result<bool, LrError> {
        self.expect(Phase::PeerFlag, "on_peer_flag")?;
        self.epoch += 1;
        self.batch = 0;
        self.converged = self.own_flag && peer;
        let stop = self.converged || self.epoch >= self.config.epochs;
        self.phase = if stop { Phase::Done } else { Phase::BatchStart };
        Ok(stop)
    }

    fn parts(mut self) -> (ModelId, Standardizer, Vec<f64>) {
        let st = Standardizer {
            means: std::mem::take(&mut self.standardizer.means),
            stds: std::mem::take(&mut self.standardizer.stds),
        };
        (self.model_id, st, std::mem::take(&mut self.w))
    }
}

// The party's features, labels, per-batch terms and masks are wiped when the role goes away
// (the weights too, unless they were handed out as the model).
impl<S: HeSecretKey> Drop for Core<'_, S> {
    fn drop(&mut self) {
        self.x.zeroize();
        if let Some(y) = &mut self.labels {
            y.zeroize();
        }
        self.terms.zeroize();
        self.masks.zeroize();
        self.w.zeroize();
        self.epoch_start.zeroize();
    }
}

fn new_core<'k, S: HeSecretKey>(
    config: LrConfig,
    features: &[Vec<f64>],
    cols: usize,
    intercept: bool,
    key: &'k S,
) -> Result<Core<'k, S>, LrError> {
    config.validate()?;
    let d = cols + usize::from(intercept);
    if cols == 0 || d > MAX_FEATURES {
        return Err(LrError::InvalidInput("feature count must be in 1..=4096"));
    }
    let pk = key.public();
    if pk.plaintext_bits() < fixed::REQUIRED_PLAINTEXT_BITS {
        return Err(LrError::InvalidConfig("own key has too few plaintext bits"));
    }
    let standardizer = Standardizer::fit(features, cols)?;
    let x = fixed::design(features, &standardizer, intercept);
    Ok(Core {
        key,
        peer: None,
        peer_features: 0,
        x,
        n: features.len(),
        d,
        labels: None,
        standardizer,
        intercept,
        w: vec![0.0; d],
        config,
        seed: [0; 32],
        model_id: ModelId([0; 16]),
        epoch: 0,
        batch: 0,
        order: Vec::new(),
        epoch_start: Vec::new(),
        rows: Vec::new(),
        terms: Vec::new(),
        masks: Vec::new(),
        own_flag: false,
        converged: false,
        phase: Phase::Handshake,
    })
}

/// The guest's training role: holds the labels, features `X_A`, its own key pair.
pub struct LrGuest<'k, S: HeSecretKey> {
    core: Core<'k, S>,
}

/// The host's training role: holds features `X_B` and its own key pair.
pub struct LrHost<'k, S: HeSecretKey> {
    core: Core<'k, S>,
}

impl<S: HeSecretKey> core::fmt::Debug for LrGuest<'_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "LrGuest({:?}, epoch {})",
            self.core.phase, self.core.epoch
        )
    }
}

impl<S: HeSecretKey> core::fmt::Debug for LrHost<'_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "LrHost({:?}, epoch {})",
            self.core.phase, self.core.epoch
        )
    }
}

/// The per-batch methods, the same for both roles.
macro_rules! shared_methods {
    () => {
        /// The own public key (the peer's terms' and gradient's ciphertexts are decoded with
        /// [`Self::peer_key`], the peer's masked gradient with this one).
        pub fn own_key(&self) -> &S::Public {
            self.core.key.public()
        }

        /// The peer's public key, once the handshake is done.
        ///
        /// # Errors
        ///
        /// [`LrError::OutOfOrder`] before the handshake.
        pub fn peer_key(&self) -> Result<&S::Public, LrError> {
            self.core.peer()
        }

        /// Own features (intercept included).
        pub fn features(&self) -> usize {
            self.core.d
        }

        /// The peer's features.
        pub fn peer_features(&self) -> usize {
            self.core.peer_features
        }

        /// Mini-batches per epoch.
        pub fn batches(&self) -> usize {
            self.core.batches()
        }

        /// Rows of the current (or next) mini-batch.
        pub fn batch_len(&self) -> usize {
            self.core.batch_len()
        }

        /// The epoch in progress (from 0), or the number run once training is over.
        pub fn epoch(&self) -> u32 {
            self.core.epoch
        }

        /// Whether training stopped because both parties converged.
        pub fn converged(&self) -> bool {
            self.core.converged
        }

        /// The shared shuffle seed.
        pub fn shuffle_seed(&self) -> [u8; 32] {
            self.core.seed
        }

        /// The model id.
        pub fn model_id(&self) -> ModelId {
            self.core.model_id
        }

        /// Step 1: the next batch's own terms, encrypted under the own key (to send).
        ///
        /// # Errors
        ///
        /// [`LrError::Diverged`], [`LrError::Crypto`], [`LrError::OutOfOrder`].
        pub fn start_batch(&mut self) -> Result<Vec<Ct<S>>, LrError> {
            self.core.start_batch()
        }

        /// Step 2: from the peer's encrypted terms, the own gradient masked and encrypted under
        /// the peer's key (to send), one ciphertext per own feature.
        ///
        /// # Errors
        ///
        /// [`LrError::BadMessage`] for a wrong count, [`LrError::Crypto`],
        /// [`LrError::OutOfOrder`].
        pub fn on_peer_terms<R: CryptoRng + ?Sized>(
            &mut self,
            peer_terms: &[Ct<S>],
            rng: &mut R,
        ) -> Result<Vec<Ct<S>>, LrError> {
            self.core.on_peer_terms(peer_terms, rng)
        }

        /// Step 3: decrypts the peer's masked gradient (to send back).
        ///
        /// # Errors
        ///
        /// [`LrError::BadMessage`] for a wrong count, [`LrError::PeerValueOutOfRange`] if a
        /// value is larger than a masked gradient can be, [`LrError::OutOfOrder`].
        pub fn on_peer_gradient(&mut self, cts: &[Ct<S>]) -> Result<Vec<i128>, LrError> {
            self.core.on_peer_gradient(cts)
        }

        /// Step 4: removes the own masks from the decrypted gradient and updates the weights.
        ///
        /// # Errors
        ///
        /// [`LrError::BadMessage`] for a wrong count, [`LrError::PeerValueOutOfRange`] if a
        /// gradient is out of range, [`LrError::OutOfOrder`].
        pub fn on_masked(&mut self, masked: &[i128]) -> Result<(), LrError> {
            self.core.on_masked(masked)
        }

        /// Whether the epoch is over (all its batches done).
        pub fn epoch_done(&self) -> bool {
            self.core.phase == Phase::EpochEnd
        }

        /// After the epoch's last batch: the own convergence flag (to send).
        ///
        /// # Errors
        ///
        /// [`LrError::OutOfOrder`].
        pub fn end_epoch(&mut self) -> Result<bool, LrError> {
            self.core.end_epoch()
        }

        /// The peer's convergence flag; returns whether training is over.
        ///
        /// # Errors
        ///
        /// [`LrError::OutOfOrder`].
        pub fn on_peer_flag(&mut self, peer: bool) -> Result<bool, LrError> {
            self.core.on_peer_flag(peer)
        }
    };
}

impl<'k, S: HeSecretKey> LrGuest<'k, S> {
    /// Standardizes and encodes the guest's `features` (rows × columns, raw) with `labels`
    /// (`true` = positive); draws the model id and the shuffle seed.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`], [`LrError::InvalidConfig`].
    pub fn new<R: CryptoRng + ?Sized>(
        config: LrConfig,
        features: &[Vec<f64>],
        labels: &[bool],
        key: &'k S,
        rng: &mut R,
    ) -> Result<Self, LrError> {
        let cols = features.first().map_or(0, Vec::len);
        if labels.len() != features.len() {
            return Err(LrError::InvalidInput("labels and rows differ in count"));
        }
        let mut core = new_core(config, features, cols, config.fit_intercept, key)?;
        core.labels = Some(labels.to_vec());
        rng.fill_bytes(&mut core.seed);
        rng.fill_bytes(&mut core.model_id.0);
        Ok(Self { core })
    }

    /// The handshake message.
    pub fn hello(&self) -> GuestHello {
        GuestHello {
            model_id: self.core.model_id,
            shuffle_seed: self.core.seed,
            rows: self.core.n as u64,
            // At most MAX_FEATURES.
            features: u32::try_from(self.core.d).unwrap_or(u32::MAX),
            config: self.core.config,
            public_key: self.core.key.public().to_bytes(),
        }
    }

    /// Accepts the host's handshake.
    ///
    /// # Errors
    ///
    /// [`LrError::PeerCrypto`], [`LrError::WeakPeerKey`], [`LrError::BatchTooSmall`],
    /// [`LrError::OutOfOrder`].
    pub fn on_host_hello(&mut self, h: &HostHello) -> Result<(), LrError> {
        self.core.expect(Phase::Handshake, "on_host_hello")?;
        self.core.accept_peer(h.features, &h.public_key)
    }

    shared_methods!();

    /// The guest's part of the trained model.
    ///
    /// # Errors
    ///
    /// [`LrError::OutOfOrder`] before training is over.
    pub fn into_model(self) -> Result<LrGuestModel, LrError> {
        self.core.expect(Phase::Done, "into_model")?;
        let intercept = self.core.intercept;
        let (model_id, standardizer, mut weights) = self.core.parts();
        let intercept = if intercept { weights.pop() } else { None };
        Ok(LrGuestModel {
            model_id,
            standardizer,
            weights,
            intercept,
        })
    }
}

impl<'k, S: HeSecretKey> LrHost<'k, S> {
    /// Standardizes and encodes the host's `features` (rows × columns, raw).
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`], [`LrError::InvalidConfig`].
    pub fn new(config: LrConfig, features: &[Vec<f64>], key: &'k S) -> Result<Self, LrError> {
        let cols = features.first().map_or(0, Vec::len);
        Ok(Self {
            core: new_core(config, features, cols, false, key)?,
        })
    }

    /// Checks the guest's handshake against the host's own settings and answers it.
    ///
    /// # Errors
    ///
    /// [`LrError::ConfigMismatch`], [`LrError::RowCountMismatch`], [`LrError::PeerCrypto`],
    /// [`LrError::WeakPeerKey`], [`LrError::BatchTooSmall`], [`LrError::OutOfOrder`].
    pub fn on_guest_hello(&mut self, h: &GuestHello) -> Result<HostHello, LrError> {
        self.core.expect(Phase::Handshake, "on_guest_hello")?;
        if !h.config.same_as(&self.core.config) {
            return Err(LrError::ConfigMismatch(
                "learning rate, epochs, batch size, l2, tol or intercept",
            ));
        }
        if h.rows != self.core.n as u64 {
            return Err(LrError::RowCountMismatch {
                ours: self.core.n as u64,
                theirs: h.rows,
            });
        }
        self.core.accept_peer(h.features, &h.public_key)?;
        self.core.seed = h.shuffle_seed;
        self.core.model_id = h.model_id;
        Ok(HostHello {
            features: u32::try_from(self.core.d).unwrap_or(u32::MAX),
            public_key: self.core.key.public().to_bytes(),
        })
    }

    shared_methods!();

    /// The host's part of the trained model.
    ///
    /// # Errors
    ///
    /// [`LrError::OutOfOrder`] before training is over.
    pub fn into_model(self) -> Result<LrHostModel, LrError> {
        self.core.expect(Phase::Done, "into_model")?;
        let (model_id, standardizer, weights) = self.core.parts();
        Ok(LrHostModel {
            model_id,
            standardizer,
            weights,
        })
    }
}
