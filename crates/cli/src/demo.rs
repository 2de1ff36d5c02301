//! `unseen demo`: a bank and a data partner find their common customers, both parties in one
//! process over the in-memory channel, on generated ID-card numbers; the result is checked against
//! the plaintext intersection.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Instant;

use unseen_channel::duplex;
use unseen_data::{KeyType, mask_key};
use unseen_node::kinds::psi as psi_job;
use unseen_psi::{PsiOutput, Reveal};

use crate::args::{Curve, DemoArgs};
use crate::psi::run_role;
use crate::{UsageError, synth};

fn pair(
    curve: Curve,
    bank: &[String],
    partner: &[String],
    reveal: Reveal,
) -> anyhow::Result<(PsiOutput, PsiOutput)> {
    let (mut a, mut b) = duplex();
    // Generated ID-card numbers; both parties are in this process, so no limit on either.
    let params = psi_job::params(reveal, KeyType::IdCard, unseen_psi::MAX_ITEMS)?;
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(move || run_role(&mut a, curve, true, bank, params, &|_| {}));
        let tb = s.spawn(move || run_role(&mut b, curve, false, partner, params, &|_| {}));
        (ta.join(), tb.join())
    });
    let (Ok(ra), Ok(rb)) = (ra, rb) else {
        anyhow::bail!("a protocol thread panicked (please report)");
    };
    Ok((ra?, rb?))
}

/// Refuses an overlap larger than the smaller party.
pub(crate) fn check_sizes(a: &DemoArgs) -> anyhow::Result<()> {
    if a.common > a.bank.min(a.partner) {
        return Err(UsageError(format!(
            "--common {} cannot exceed the smaller party ({})",
            a.common,
            a.bank.min(a.partner)
        ))
        .into());
    }
    if a.applicants == 0 {
        return Err(UsageError("--applicants must be at least 1".to_owned()).into());
    }
    Ok(())
}

pub(crate) fn run(a: &DemoArgs) -> anyhow::Result<ExitCode> {
    check_sizes(a)?;
    let curve_name = match a.curve {
        Curve::Ristretto255 => "ristretto255",
        Curve::Sm2 => "SM2/SM3 (国密)",
    };
    println!("unseen demo: private set intersection (安全求交) with ECDH over {curve_name}");
    println!(
        "  bank     holds {:>7} customers (generated 18-digit ID-card numbers)",
        a.bank
    );
    println!(
        "  partner  holds {:>7} customers; {} are also the bank's",
        a.partner, a.common
    );
    let (bank, partner) = synth::overlapping(2026, a.bank, a.partner, a.common);

    // Plaintext oracle: what a trusted third party would compute.
    let pset: HashSet<&String> = partner.iter().collect();
    let mut truth: Vec<&String> = bank.iter().filter(|x| pset.contains(x)).collect();
    truth.sort();

    let t = Instant::now();
    let (lb, fp) = pair(a.curve, &bank, &partner, Reveal::Both)?;
    let secs = t.elapsed().as_secs_f64();
    let bank_rows: Vec<&String> = lb
        .intersection
        .iter()
        .flatten()
        .map(|&i| &bank[i])
        .collect();
    let partner_rows: Vec<&String> = fp
        .intersection
        .iter()
        .flatten()
        .map(|&i| &partner[i])
        .collect();

    println!();
    println!("mode both ({secs:.2} s, {} rounds):", lb.stats.rounds);
    for (who, rows) in [("bank", &bank_rows), ("partner", &partner_rows)] {
        let examples: Vec<String> = rows.iter().take(3).map(|k| mask_key(k)).collect();
        println!(
            "  {who:<8} learned {} common customers, e.g. {}",
            rows.len(),
            examples.join(", ")
        );
    }
    println!(
        "  traffic  bank → partner {:.2} MiB, partner → bank {:.2} MiB",
        lb.stats.bytes_sent as f64 / 1_048_576.0,
        lb.stats.bytes_received as f64 / 1_048_576.0
    );
    println!(
        "  neither learned anything about the other's remaining customers beyond their number"
    );

    let (lc, fc) = pair(a.curve, &bank, &partner, Reveal::Cardinality)?;
    println!();
    println!("mode cardinality:");
    for (who, out) in [("bank", &lc), ("partner", &fc)] {
        match out.cardinality {
            Some(c) => println!("  {who:<8} learned only the count: {c}"),
            None => println!("  {who:<8} learned no count (unexpected)"),
        }
    }

    let ok_rows = bank_rows == truth && partner_rows == truth;
    let n = truth.len() as u64;
    let ok_card = lc.cardinality == Some(n)
        && fc.cardinality == Some(n)
        && lc.intersection.is_none()
        && fc.intersection.is_none();
    println!();
    if ok_rows && ok_card {
        println!(
            "check: OK — both parties' rows equal the plaintext intersection ({n}), row for row"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "check: FAILED — the protocol's output differs from the plaintext intersection (please report)"
        );
        Ok(ExitCode::from(1))
    }
}
