//! Seeded synthetic data for the demo and benchmarks: overlapping lists of resident ID numbers
//! (from [`unseen_data::synth::id_cards`]) and a credit set. Not personal data of anyone.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// Two lists: `a_n` and `b_n` items sharing exactly `common`, in shuffled order.
pub(crate) fn overlapping(
    seed: u64,
    a_n: usize,
    b_n: usize,
    common: usize,
) -> (Vec<String>, Vec<String>) {
    let all = unseen_data::synth::id_cards(seed, a_n + b_n - common);
    let a: Vec<String> = all[..a_n].to_vec();
    let mut b: Vec<String> = all[..common].to_vec();
    b.extend_from_slice(&all[a_n..]);
    let mut r = ChaCha20Rng::seed_from_u64(seed ^ 0xb0b);
    for i in (1..b.len()).rev() {
        let j = usize::try_from(r.next_u64() % (i as u64 + 1)).unwrap_or(i);
        b.swap(i, j);
    }
    (a, b)
}

/// Column names of [`credit`]'s bank part (after `id`, `default_flag`).
pub(crate) const CREDIT_BANK: [&str; 4] = ["income_k", "debt_ratio", "age", "card_utilization"];
/// Column names of [`credit`]'s partner part (after `id`).
pub(crate) const CREDIT_PARTNER: [&str; 5] = [
    "tenure_months",
    "monthly_spend_k",
    "late_payments_12m",
    "night_txn_share",
    "devices",
];

/// A synthetic credit set for the joint-modeling demo: per ID, the default flag, the bank's 4
/// features and the partner's 5. The flag follows a logistic model in which both parties'
/// features matter (so joint training beats the bank's alone); seeded, not anyone's data.
pub(crate) fn credit(seed: u64, ids: &[String]) -> Vec<(u8, [f64; 4], [f64; 5])> {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    // Uniform in [0, 1) from 53 random bits.
    let mut u = move || (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ids.iter()
        .map(|_| {
            let income = (20.0 + 180.0 * u() * u()).round();
            let debt = (u() * 0.9 * 1000.0).round() / 1000.0;
            let age = (21.0 + 45.0 * u()).round();
            let util = (u() * 1000.0).round() / 1000.0;
            let tenure = (u() * 120.0).round();
            let spend = (0.5 + 15.0 * u() * u() * 100.0).round() / 100.0;
            let late = (4.0 * u() * u() * u()).floor();
            let night = (u() * 0.6 * 1000.0).round() / 1000.0;
            let devices = (1.0 + 3.0 * u() * u()).floor();
            let z = -2.2 - 0.012 * income + 2.4 * debt - 0.02 * (age - 40.0) + 1.3 * util
                - 0.012 * tenure
                + 0.9 * late
                + 2.0 * night
                + 0.35 * devices
                - 0.05 * spend;
            let p = 1.0 / (1.0 + (-z).exp());
            let flag = u8::from(u() < p);
            (
                flag,
                [income, debt, age, util],
                [tenure, spend, late, night, devices],
            )
        })
        .collect()
}
