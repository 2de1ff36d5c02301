//! The eight-lane IFMA Montgomery multiplication (`he::mont_ifma`) against crypto-bigint
//! (`FixedMontyForm`) and against its own portable path: random and edge moduli from 2 to 2080
//! bits, edge operands, long chains, histogram products with empty bins, the fallback switch.
//!
//! The test names contain `ifma`, so `.ci/run`'s AddressSanitizer step (`-- ifma`) runs them.
//! Each eight-lane part passes `unseen_crypto::simd_test_gate` first: without AVX-512 IFMA the
//! skip is reported and counted (and fails under `UNSEEN_REQUIRE_SIMD=1`), and the portable
//! parts still run.

use crypto_bigint::{
    Odd, Uint,
    modular::{FixedMontyForm, FixedMontyParams},
};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_crypto::he::mont_ifma::{
    MAX_MODULUS_BITS, Mont52, MontCtx, MontMul8, POW_WINDOW, backend_name, bucket_products,
    bucket_products_portable,
};
use unseen_crypto::simd_test_gate;

/// The SIMD gate of test `name`: whether its eight-lane part runs (see the module doc).
fn ifma(name: &str) -> bool {
    simd_test_gate(
        &format!("mont_ifma::{name}"),
        backend_name() == "avx512ifma-8x",
    )
}

/// The eight-lane context of a valid modulus, once the gate has passed: `None` there would be a
/// bug of `MontMul8::new`, not a CPU without IFMA.
fn ctx8(n: &[u64]) -> MontMul8 {
    MontMul8::new(n).unwrap_or_else(|| panic!("no IFMA context for a {}-limb modulus", n.len()))
}

/// 33 words = 2112 bits ≥ 2080.
const W: usize = 33;
type Big = Uint<W>;

fn big(x: &[u64]) -> Big {
    let mut w = [0u64; W];
    w[..x.len()].copy_from_slice(x);
    Big::from_words(w)
}

fn words(x: &Big, len: usize) -> Vec<u64> {
    x.as_words()[..len].to_vec()
}

/// Reference arithmetic modulo one `n`.
struct Ref {
    params: FixedMontyParams<W>,
    len: usize,
}

impl Ref {
    fn new(n: &[u64]) -> Self {
        let params = FixedMontyParams::new_vartime(Odd::new(big(n)).unwrap());
        Ref {
            params,
            len: n.len(),
        }
    }
    fn form(&self, x: &[u64]) -> FixedMontyForm<W> {
        FixedMontyForm::new(&big(x), &self.params)
    }
    fn mul(&self, x: &[u64], y: &[u64]) -> Vec<u64> {
        words(&(self.form(x) * self.form(y)).retrieve(), self.len)
    }
}

/// A random odd modulus of exactly `bits` bits (bits ≥ 2), as `ceil(bits/64)` limbs.
fn random_modulus(rng: &mut ChaCha20Rng, bits: u32) -> Vec<u64> {
    let len = bits.div_ceil(64) as usize;
    let mut n: Vec<u64> = (0..len).map(|_| rng.next_u64()).collect();
    let top = (bits - 1) % 64;
    let last = n.last_mut().unwrap();
    *last &= if top == 63 {
        u64::MAX
    } else {
        (1u64 << (top + 1)) - 1
    };
    *last |= 1 << top;
    n[0] |= 1;
    n
}

/// `2^bits − k` (k odd, small).
fn power_minus(bits: u32, k: u64) -> Vec<u64> {
    let len = bits.div_ceil(64) as usize;
    let mut n = vec![u64::MAX; len];
    if !bits.is_multiple_of(64) {
        n[len - 1] = (1u64 << (bits % 64)) - 1;
    }
    n[0] -= k - 1;
    n
}

/// A random value below `n` (by rejection on the top limb's bit length).
fn random_below(rng: &mut ChaCha20Rng, n: &[u64]) -> Vec<u64> {
    let top_bits = 64 - n.last().unwrap().leading_zeros();
    loop {
        let mut x: Vec<u64> = n.iter().map(|_| rng.next_u64()).collect();
        let last = x.last_mut().unwrap();
        if top_bits < 64 {
            *last &= (1u64 << top_bits) - 1;
        }
        if big(&x) < big(n) {
            return x;
        }
    }
}

/// A random index below `k`.
fn below(rng: &mut ChaCha20Rng, k: usize) -> usize {
    usize::try_from(rng.next_u64() % k as u64).unwrap()
}

/// `n − k` for small k ≤ n.
fn minus(n: &[u64], k: u64) -> Vec<u64> {
    words(&big(n).wrapping_sub(&Big::from_u64(k)), n.len())
}

fn small(v: u64, len: usize) -> Vec<u64> {
    let mut x = vec![0u64; len];
    x[0] = v;
    x
}

/// Edge operands for modulus `n`, then random ones, `count` in all.
fn operands(rng: &mut ChaCha20Rng, n: &[u64], count: usize) -> Vec<Vec<u64>> {
    let len = n.len();
    let mut v = vec![small(0, len), small(1, len), minus(n, 1)];
    if big(n) > Big::from_u64(3) {
        v.push(small(2, len));
        v.push(minus(n, 2));
    }
    while v.len() < count {
        v.push(random_below(rng, n));
    }
    v.truncate(count);
    v
}

fn moduli(rng: &mut ChaCha20Rng) -> Vec<Vec<u64>> {
    let mut ms = vec![
        power_minus(2048, 1),
        power_minus(2048, 189),
        power_minus(2080, 1),
        power_minus(2078, 1),
        power_minus(2079, 5),
        power_minus(64, 59),
        power_minus(52, 1),
        vec![3],
        vec![5],
        vec![(1 << 52) + 1],
        // n = 2^2047 + 1: the smallest 2048-bit odd modulus.
        {
            let mut n = vec![0u64; 32];
            n[0] = 1;
            n[31] = 1 << 63;
            n
        },
    ];
    for bits in [
        2048, 2048, 2048, 2047, 2049, 2080, 2077, 1536, 1024, 520, 105, 104, 53,
    ] {
        ms.push(random_modulus(rng, bits));
    }
    ms
}

#[test]
fn ifma_context_rejects_bad_moduli() {
    assert!(MontCtx::new(&[]).is_none());
    assert!(MontCtx::new(&[0, 0]).is_none());
    assert!(MontCtx::new(&[1]).is_none());
    assert!(MontCtx::new(&[2]).is_none());
    assert!(MontCtx::new(&power_minus(2048, 2)).is_none(), "even");
    assert!(MontCtx::new(&power_minus(MAX_MODULUS_BITS + 1, 1)).is_none());
    let ok = MontCtx::new(&power_minus(MAX_MODULUS_BITS, 1)).unwrap();
    assert_eq!(ok.limbs(), 41);
    assert_eq!(MontCtx::new(&power_minus(2048, 1)).unwrap().limbs(), 40);
    // High zero limbs are allowed and give the output length.
    let mut padded = vec![7u64];
    padded.resize(4, 0);
    let c = MontCtx::new(&padded).unwrap();
    assert_eq!(c.from_mont(&c.one()), vec![1, 0, 0, 0]);
    if ifma("ifma_context_rejects_bad_moduli") {
        ctx8(&power_minus(2048, 1));
        ctx8(&power_minus(MAX_MODULUS_BITS, 1));
        assert!(MontMul8::new(&power_minus(2048, 2)).is_none(), "even");
        assert!(MontMul8::new(&power_minus(MAX_MODULUS_BITS + 1, 1)).is_none());
    }
}

#[test]
fn ifma_to_mont_checks_range_and_round_trips() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6d6f_6e74);
    for n in moduli(&mut rng) {
        let c = MontCtx::new(&n).unwrap();
        assert!(c.to_mont(&n).is_err(), "x = n");
        let mut above = n.clone();
        above.push(1);
        assert!(c.to_mont(&above).is_err(), "x > n, longer");
        // A longer slice with high zero limbs is fine.
        let mut x = random_below(&mut rng, &n);
        let want = x.clone();
        x.push(0);
        assert_eq!(c.from_mont(&c.to_mont(&x).unwrap()), want);
        for x in operands(&mut rng, &n, 12) {
            assert_eq!(c.from_mont(&c.to_mont(&x).unwrap()), x);
        }
    }
}

/// `x·2^(64·k) mod n` for the `k` limbs of `n`: crypto-bigint's Montgomery form of `x` for a
/// `Uint<k>` modulus.
fn r64_form(r: &Ref, x: &[u64]) -> Vec<u64> {
    let k = u64::try_from(r.len).unwrap();
    let r64 = r.form(&small(2, r.len)).pow(&Uint::<1>::from_u64(64 * k));
    words(&(r.form(x) * r64).retrieve(), r.len)
}

#[test]
fn ifma_r64_montgomery_conversions() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0072_3634);
    let eight = ifma("ifma_r64_montgomery_conversions");
    for n in moduli(&mut rng) {
        let (c, r) = (MontCtx::new(&n).unwrap(), Ref::new(&n));
        let xs = operands(&mut rng, &n, 9);
        let xrs: Vec<Vec<u64>> = xs.iter().map(|x| r64_form(&r, x)).collect();
        for (x, xr) in xs.iter().zip(&xrs) {
            let m = c.from_r64_montgomery(xr).unwrap();
            assert_eq!(&c.from_mont(&m), x);
            assert_eq!(&c.to_r64_montgomery(&c.to_mont(x).unwrap()), xr);
        }
        assert!(c.from_r64_montgomery(&n).is_err());
        if eight {
            let m8 = ctx8(&n);
            let refs: Vec<&[u64]> = xrs.iter().map(Vec::as_slice).collect();
            let ms = m8.from_r64_montgomery_batch(&refs).unwrap();
            assert_eq!(m8.from_mont_batch(&ms), xs);
            assert_eq!(m8.to_r64_montgomery_batch(&ms), xrs);
        }
    }
    // Exactly what a 2048-bit modulus's FixedMontyForm<32> stores (as OU ciphertexts do).
    let n = random_modulus(&mut rng, 2048);
    let params = FixedMontyParams::new_vartime(Odd::new(Uint::<32>::from_words(n32(&n))).unwrap());
    let c = MontCtx::new(&n).unwrap();
    for x in operands(&mut rng, &n, 6) {
        let f = FixedMontyForm::new(&Uint::<32>::from_words(n32(&x)), &params);
        let xr = f.as_montgomery().as_words().to_vec();
        let m = c.from_r64_montgomery(&xr).unwrap();
        assert_eq!(c.from_mont(&m), x);
        assert_eq!(c.to_r64_montgomery(&m), xr);
    }
}

fn n32(x: &[u64]) -> [u64; 32] {
    x.try_into().unwrap()
}

#[test]
fn ifma_portable_mul_matches_crypto_bigint() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0070_6f72);
    for n in moduli(&mut rng) {
        let (c, r) = (MontCtx::new(&n).unwrap(), Ref::new(&n));
        let ops = operands(&mut rng, &n, 10);
        for x in &ops {
            for y in &ops {
                let mut a = c.to_mont(x).unwrap();
                c.mul(&mut a, &c.to_mont(y).unwrap());
                assert_eq!(c.from_mont(&a), r.mul(x, y));
            }
        }
    }
}

/// Runs `mul8` on lanes built from `xs`, `ys` and returns the plain results.
fn mul8_plain(m: &MontMul8, xs: &[Vec<u64>], ys: &[Vec<u64>]) -> Vec<Vec<u64>> {
    let mut a: Vec<Mont52> = xs.iter().map(|x| m.to_mont(x).unwrap()).collect();
    let b: Vec<Mont52> = ys.iter().map(|y| m.to_mont(y).unwrap()).collect();
    let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut a[..] else {
        panic!("eight lanes")
    };
    m.mul8(
        [a0, a1, a2, a3, a4, a5, a6, a7],
        core::array::from_fn(|k| &b[k]),
    );
    a.iter().map(|v| m.from_mont(v)).collect()
}

#[test]
fn ifma_mul8_matches_crypto_bigint() {
    if !ifma("ifma_mul8_matches_crypto_bigint") {
        return;
    }
    let mut rng = ChaCha20Rng::seed_from_u64(0x0006_d756);
    for n in moduli(&mut rng) {
        let m = ctx8(&n);
        let r = Ref::new(&n);
        let ops = operands(&mut rng, &n, 16);
        // All pairs of the edge operands and random ones, eight at a time.
        let pairs: Vec<(Vec<u64>, Vec<u64>)> = ops
            .iter()
            .flat_map(|x| ops.iter().map(move |y| (x.clone(), y.clone())))
            .collect();
        for chunk in pairs.chunks_exact(8) {
            let xs: Vec<Vec<u64>> = chunk.iter().map(|p| p.0.clone()).collect();
            let ys: Vec<Vec<u64>> = chunk.iter().map(|p| p.1.clone()).collect();
            let got = mul8_plain(&m, &xs, &ys);
            for k in 0..8 {
                assert_eq!(got[k], r.mul(&xs[k], &ys[k]), "lane {k}");
            }
        }
    }
}

#[test]
fn ifma_batch_conversions_match_scalar() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0062_6174);
    let n = random_modulus(&mut rng, 2048);
    if !ifma("ifma_batch_conversions_match_scalar") {
        return;
    }
    let m = ctx8(&n);
    for len in [0, 1, 7, 8, 9, 17] {
        let xs = operands(&mut rng, &n, len.max(5));
        let xs = &xs[..len];
        let refs: Vec<&[u64]> = xs.iter().map(Vec::as_slice).collect();
        let batch = m.to_mont_batch(&refs).unwrap();
        assert_eq!(batch.len(), len);
        for (b, x) in batch.iter().zip(xs) {
            assert_eq!(&m.from_mont(b), x);
        }
        assert_eq!(m.from_mont_batch(&batch), xs);
        // Values that are products (below 2n, not n) leave the domain fully reduced too.
        let mut prods = batch.clone();
        for p in &mut prods {
            m.ctx().mul(p, &batch[0]);
        }
        let singles: Vec<Vec<u64>> = prods.iter().map(|p| m.from_mont(p)).collect();
        assert_eq!(m.from_mont_batch(&prods), singles);
    }
    let bad = [n.as_slice()];
    assert!(m.to_mont_batch(&bad).is_err());
}

/// 10 000 successive multiplications per lane (lanes 0–3 by varying operands, lanes 4–7
/// squarings of themselves times a fixed value), checked against crypto-bigint every 500 steps
/// and against the portable path bit for bit on lane 0 at every step.
#[test]
fn ifma_long_chains() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0063_6861);
    let mods = [
        random_modulus(&mut rng, 2048),
        power_minus(2048, 1),
        power_minus(2080, 1),
    ];
    if !ifma("ifma_long_chains") {
        return;
    }
    for n in mods {
        let m = ctx8(&n);
        let (c, r) = (m.ctx(), Ref::new(&n));
        let pool = operands(&mut rng, &n, 19);
        let pool_m: Vec<Mont52> = pool.iter().map(|x| c.to_mont(x).unwrap()).collect();
        let pool_r: Vec<FixedMontyForm<W>> = pool.iter().map(|x| r.form(x)).collect();
        // Start every lane at a random nonzero value (lane 0 at n − 1).
        let starts: Vec<Vec<u64>> = (0..8)
            .map(|k| {
                if k == 0 {
                    minus(&n, 1)
                } else {
                    pool[3 + k].clone()
                }
            })
            .collect();
        let mut acc: Vec<Mont52> = starts.iter().map(|x| c.to_mont(x).unwrap()).collect();
        let mut want: Vec<FixedMontyForm<W>> = starts.iter().map(|x| r.form(x)).collect();
        let mut scalar0 = acc[0];
        let fixed = 17;
        for step in 0..10_000usize {
            let idx: [usize; 8] = core::array::from_fn(|k| {
                if k < 4 {
                    (step * (k + 1) + k) % pool.len()
                } else {
                    fixed
                }
            });
            // Lanes ≥ 4: acc ← acc² · fixed, in two multiplications; this is the first.
            let sq: Vec<Mont52> = acc.clone();
            let ops: [&Mont52; 8] =
                core::array::from_fn(|k| if k < 4 { &pool_m[idx[k]] } else { &sq[k] });
            {
                let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut acc[..] else {
                    unreachable!()
                };
                m.mul8([a0, a1, a2, a3, a4, a5, a6, a7], ops);
            }
            c.mul(&mut scalar0, &pool_m[idx[0]]);
            // The two paths compute the same integer, not only the same residue.
            assert_eq!(scalar0.raw_limbs(), acc[0].raw_limbs(), "step {step}");
            for k in 0..8 {
                if k < 4 {
                    want[k] *= &pool_r[idx[k]];
                } else {
                    want[k] = want[k].square();
                }
            }
            // Second multiplication of lanes ≥ 4 (lanes < 4 multiply by the Montgomery 1).
            let one = c.one();
            let ops: [&Mont52; 8] =
                core::array::from_fn(|k| if k < 4 { &one } else { &pool_m[fixed] });
            {
                let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut acc[..] else {
                    unreachable!()
                };
                m.mul8([a0, a1, a2, a3, a4, a5, a6, a7], ops);
            }
            for w in &mut want[4..] {
                *w *= &pool_r[fixed];
            }
            if step % 500 == 499 {
                for k in 0..8 {
                    assert_eq!(
                        c.from_mont(&acc[k]),
                        words(&want[k].retrieve(), n.len()),
                        "step {step}, lane {k}"
                    );
                }
            }
        }
    }
}

/// Plain product per (feature, bin) with crypto-bigint.
fn reference_hist(
    r: &Ref,
    cts: &[Vec<u64>],
    bins: &[Vec<u8>],
    rows: &[u32],
    n_bins: usize,
) -> Vec<Vec<Vec<u64>>> {
    bins.iter()
        .map(|col| {
            let mut h: Vec<FixedMontyForm<W>> = vec![r.form(&small(1, r.len)); n_bins];
            for &row in rows {
                let row = row as usize;
                h[usize::from(col[row])] *= r.form(&cts[row]);
            }
            h.iter().map(|v| words(&v.retrieve(), r.len)).collect()
        })
        .collect()
}

fn plain_hist(c: &MontCtx, h: &[Vec<Mont52>]) -> Vec<Vec<Vec<u64>>> {
    h.iter()
        .map(|f| f.iter().map(|v| c.from_mont(v)).collect())
        .collect()
}

#[test]
fn ifma_bucket_products_match_reference() {
    let eight = ifma("ifma_bucket_products_match_reference");
    let mut rng = ChaCha20Rng::seed_from_u64(0x6275_636b);
    let cases: [(u32, usize, usize, usize); 5] = [
        // (modulus bits, rows, features, bins)
        (2048, 1200, 11, 32),
        (2048, 300, 8, 7),
        (2080, 200, 3, 256),
        (520, 700, 20, 5),
        (2048, 50, 17, 1),
    ];
    for (bits, n_rows, n_feat, n_bins) in cases {
        let n = random_modulus(&mut rng, bits);
        let c = MontCtx::new(&n).unwrap();
        let r = Ref::new(&n);
        let cts: Vec<Vec<u64>> = (0..n_rows).map(|_| random_below(&mut rng, &n)).collect();
        // Bins drawn only from the lower part (and never bin 1), so bins stay empty.
        let used = (n_bins * 3 / 4).max(1);
        let bins: Vec<Vec<u8>> = (0..n_feat)
            .map(|_| {
                (0..n_rows)
                    .map(|_| {
                        let b = u8::try_from(below(&mut rng, used)).unwrap();
                        if b == 1 && n_bins > 1 { 0 } else { b }
                    })
                    .collect()
            })
            .collect();
        // A random subset of the rows, in random order.
        let mut rows: Vec<u32> = (0..u32::try_from(n_rows).unwrap())
            .filter(|_| rng.next_u64() % 3 != 0)
            .collect();
        for i in (1..rows.len()).rev() {
            rows.swap(i, below(&mut rng, i + 1));
        }
        let cols: Vec<&[u8]> = bins.iter().map(Vec::as_slice).collect();
        let cts_m: Vec<Mont52> = cts.iter().map(|x| c.to_mont(x).unwrap()).collect();
        let want = reference_hist(&r, &cts, &bins, &rows, n_bins);
        let portable = bucket_products_portable(&c, &cts_m, &cols, &rows, n_bins).unwrap();
        assert_eq!(plain_hist(&c, &portable), want, "portable, {bits} bits");
        if !eight {
            continue;
        }
        let m = ctx8(&n);
        let fast = bucket_products(&m, &cts_m, &cols, &rows, n_bins).unwrap();
        assert_eq!(fast.len(), n_feat);
        assert_eq!(plain_hist(&c, &fast), want, "ifma, {bits} bits");
        // Other thread counts plan other tasks (chunks, row parts).
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let h = pool
                .install(|| bucket_products(&m, &cts_m, &cols, &rows, n_bins))
                .unwrap();
            assert_eq!(plain_hist(&c, &h), want, "ifma, {threads} threads");
        }
        // No rows: every bin is 1; no features: nothing.
        let none = bucket_products(&m, &cts_m, &cols, &[], n_bins).unwrap();
        assert!(
            none.iter()
                .flatten()
                .all(|v| c.from_mont(v) == small(1, n.len()))
        );
        assert!(
            bucket_products(&m, &cts_m, &[], &rows, n_bins)
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn ifma_bucket_products_reject_bad_arguments() {
    let n = power_minus(2048, 1);
    let c = MontCtx::new(&n).unwrap();
    let cts = vec![c.one(); 4];
    let good = [0u8, 1, 2, 3];
    let bad_bin = [0u8, 1, 4, 3];
    let short = [0u8, 1];
    let rows = [0u32, 1, 2, 3];
    let m8 = ifma("ifma_bucket_products_reject_bad_arguments").then(|| ctx8(&n));
    let check = |cols: &[&[u8]], rows: &[u32], n_bins: usize| {
        let p = bucket_products_portable(&c, &cts, cols, rows, n_bins);
        if let Some(m) = &m8 {
            assert_eq!(
                bucket_products(m, &cts, cols, rows, n_bins).is_err(),
                p.is_err()
            );
        }
        p.is_err()
    };
    assert!(!check(&[&good], &rows, 4));
    assert!(check(&[&good, &bad_bin], &rows, 4), "bin 4 of 4");
    assert!(check(&[&good], &rows, 3), "bin 3 of 3");
    assert!(check(&[&good, &short], &rows, 4), "short column");
    assert!(check(&[&good], &[0, 4], 4), "row beyond cts");
    assert!(check(&[&good], &rows, 0), "no bins");
    assert!(check(&[&good], &rows, 257), "too many bins");
}

/// A random exponent of at most `bits` bits as little-endian bytes (`⌈bits/8⌉` of them), its
/// top bit set half of the time.
fn random_exponent(rng: &mut ChaCha20Rng, bits: u32) -> Vec<u8> {
    let mut e: Vec<u8> = (0..bits.div_ceil(8))
        .map(|_| rng.next_u32().to_le_bytes()[0])
        .collect();
    if let Some(last) = e.last_mut() {
        if !bits.is_multiple_of(8) {
            *last &= (1u8 << (bits % 8)) - 1;
        }
        if rng.next_u32().is_multiple_of(2) {
            *last |= 1 << ((bits - 1) % 8);
        }
    }
    e
}

/// The 4-bit windows of `e` (below `2^bits`), most significant first, as `MontCtx::pow` takes.
fn windows_of(e: &[u8], bits: u32) -> Vec<u8> {
    let count = bits.div_ceil(POW_WINDOW);
    (0..count)
        .rev()
        .map(|w| {
            let at = (w * POW_WINDOW) as usize;
            (e.get(at / 8).copied().unwrap_or(0) >> (at % 8)) & 0xf
        })
        .collect()
}

/// `x^e mod n` by crypto-bigint.
fn ref_pow(r: &Ref, x: &[u64], e: &[u8]) -> Vec<u64> {
    let mut w = [0u64; W];
    for (i, &b) in e.iter().enumerate() {
        w[i / 8] |= u64::from(b) << (8 * (i % 8));
    }
    words(&r.form(x).pow(&Big::from_words(w)).retrieve(), r.len)
}

/// Fixed-window powers: the portable `MontCtx::pow` against crypto-bigint, and the eight-lane
/// `pow_many` (per-lane exponents) and `pow_many_same` against the portable path, limb for limb.
#[test]
fn ifma_pow_matches_crypto_bigint_and_portable() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0070_6f77);
    let mut ms = moduli(&mut rng);
    // OU-2048's p² (1366 bits) and a Paillier-2048 n²-sized modulus.
    ms.push(random_modulus(&mut rng, 1366));
    let eight = ifma("ifma_pow_matches_crypto_bigint_and_portable");
    for n in ms {
        let (c, r) = (MontCtx::new(&n).unwrap(), Ref::new(&n));
        let m8 = eight.then(|| ctx8(&n));
        for bits in [1u32, 4, 5, 32, 224] {
            let xs = operands(&mut rng, &n, 11);
            let mut es: Vec<Vec<u8>> = (0..xs.len())
                .map(|_| random_exponent(&mut rng, bits))
                .collect();
            es[0] = vec![0; bits.div_ceil(8) as usize]; // x^0 = 1
            let mut portable = Vec::new();
            for (x, e) in xs.iter().zip(&es) {
                let mut m = c.to_mont(x).unwrap();
                c.pow(&mut m, &windows_of(e, bits));
                assert_eq!(c.from_mont(&m), ref_pow(&r, x, e), "{bits}-bit exponent");
                portable.push(m);
            }
            let Some(m8) = &m8 else { continue };
            let mut got: Vec<Mont52> = xs.iter().map(|x| c.to_mont(x).unwrap()).collect();
            let refs: Vec<&[u8]> = es.iter().map(Vec::as_slice).collect();
            m8.pow_many(&mut got, &refs, bits).unwrap();
            for (g, p) in got.iter().zip(&portable) {
                assert_eq!(g.raw_limbs(), p.raw_limbs(), "pow_many, {bits} bits");
            }
            let mut same: Vec<Mont52> = xs.iter().map(|x| c.to_mont(x).unwrap()).collect();
            m8.pow_many_same(&mut same, &es[1], bits).unwrap();
            for (s, x) in same.iter().zip(&xs) {
                assert_eq!(c.from_mont(s), ref_pow(&r, x, &es[1]), "pow_many_same");
            }
        }
    }
}

#[test]
fn ifma_pow_rejects_wide_exponents_and_bad_lengths() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0077_6964);
    let n = random_modulus(&mut rng, 2048);
    if !ifma("ifma_pow_rejects_wide_exponents_and_bad_lengths") {
        return;
    }
    let m8 = ctx8(&n);
    let mut xs = vec![m8.ctx().one(); 3];
    let ok = [1u8, 0, 0];
    // 9 bits allowed: a bit at 9 (byte 1, bit 1) is too wide, so is a set third byte.
    assert!(m8.pow_many(&mut xs, &[&ok, &[0, 2], &ok], 9).is_err());
    assert!(m8.pow_many(&mut xs, &[&ok, &ok, &[0, 0, 1]], 9).is_err());
    assert!(m8.pow_many(&mut xs, &[&ok, &ok, &[0, 1]], 9).is_ok());
    assert!(
        m8.pow_many(&mut xs, &[&ok, &ok], 9).is_err(),
        "lengths differ"
    );
    assert!(m8.pow_many_same(&mut xs, &[0, 0, 1], 9).is_err());
    // Zero windows (bits = 0): every result is 1.
    let mut ys = vec![m8.to_mont(&random_below(&mut rng, &n)).unwrap(); 2];
    m8.pow_many_same(&mut ys, &[], 0).unwrap();
    assert_eq!(m8.from_mont(&ys[0]), small(1, n.len()));
}

/// The product of crypto-bigint Montgomery forms (what OU's batch addition uses), and entering
/// the domain from another radix.
#[test]
fn ifma_mul_r64_many_and_radix_factor() {
    if !ifma("ifma_mul_r64_many_and_radix_factor") {
        return;
    }
    let mut rng = ChaCha20Rng::seed_from_u64(0x0072_3678);
    for n in moduli(&mut rng) {
        let (c, r) = (MontCtx::new(&n).unwrap(), Ref::new(&n));
        let xs = operands(&mut rng, &n, 13);
        let ys = operands(&mut rng, &n, 13);
        let m8 = ctx8(&n);
        // Radix 2^s for a few s: x·2^s mod n enters as x.
        for s in [0u32, 1, 64, 2048, 2111] {
            let f = c.radix_factor(s);
            let two_s = r
                .form(&small(2, r.len))
                .pow(&Uint::<1>::from_u64(u64::from(s)));
            let forms: Vec<Vec<u64>> = xs
                .iter()
                .map(|x| words(&(r.form(x) * two_s).retrieve(), r.len))
                .collect();
            let refs: Vec<&[u64]> = forms.iter().map(Vec::as_slice).collect();
            let got = m8.enter_batch_with(&refs, &f).unwrap();
            assert_eq!(m8.from_mont_batch(&got), xs, "radix 2^{s}");
        }
        let xr: Vec<Vec<u64>> = xs.iter().map(|x| r64_form(&r, x)).collect();
        let yr: Vec<Vec<u64>> = ys.iter().map(|y| r64_form(&r, y)).collect();
        let a: Vec<&[u64]> = xr.iter().map(Vec::as_slice).collect();
        let b: Vec<&[u64]> = yr.iter().map(Vec::as_slice).collect();
        let got = m8.mul_r64_many(&a, &b).unwrap();
        for ((g, x), y) in got.iter().zip(&xs).zip(&ys) {
            assert_eq!(g, &r64_form(&r, &r.mul(x, y)));
        }
        assert!(m8.mul_r64_many(&a, &b[1..]).is_err(), "lengths differ");
        let bad = [n.as_slice()];
        assert!(m8.mul_r64_many(&bad, &b[..1]).is_err(), "operand ≥ n");
    }
}

/// With `UNSEEN_NO_SIMD` set, `MontMul8::new` is `None` (checked in a child process, since the
/// choice is made once per process).
#[test]
fn ifma_no_simd_switch_forces_fallback() {
    if std::env::var_os("UNSEEN_MONT_CHILD").is_some() {
        assert!(std::env::var_os("UNSEEN_NO_SIMD").is_some());
        assert!(MontMul8::new(&power_minus(2048, 1)).is_none());
        assert_eq!(backend_name(), "portable");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "mont_ifma::ifma_no_simd_switch_forces_fallback",
            "--test-threads=1",
        ])
        .env("UNSEEN_MONT_CHILD", "1")
        .env("UNSEEN_NO_SIMD", "1")
        .env_remove("UNSEEN_REQUIRE_SIMD")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    assert!(stdout.contains("1 passed"), "child ran no test: {stdout}");
}
