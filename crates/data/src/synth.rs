//! Synthetic resident ID numbers (居民身份证号码) for demos, benchmarks and tests: the one
//! GB 11643-1999 check character of the workspace, and one seeded generator.
//!
//! The numbers are made up: well-formed and with a valid check character, so that
//! [`normalize_key`](crate::normalize_key) accepts them as `id-card` keys, but not anyone's
//! number on purpose (the area codes are not taken from the list of administrative divisions).
//!
//! # The number (GB 11643-1999 §5)
//!
//! Eighteen characters, left to right: a six-digit address code (§5.2, the county's division
//! code of GB/T 2260), an eight-digit birth date `YYYYMMDD` (§5.3, GB/T 7408), a three-digit
//! sequence code (§5.4, odd for men, even for women) and the check character (§5.5).
//!
//! # The check character (§5.5, ISO 7064:1983 MOD 11-2)
//!
//! Number the positions from the right, the check character being position 1, and let `a_i` be
//! the digit at position `i`:
//!
//! 1. (§5.5.1) `S = Σ a_i · W_i mod 11` over `i = 2..=18`, with the weights
//!    `W_i = 2^(i-1) mod 11`; left to right, positions 18 down to 2, they are
//!    `7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2` ([`id_card_check_char`] checks the table against
//!    the formula in its tests).
//! 2. (§5.5.2) The check character is `1 0 X 9 8 7 6 5 4 3 2` for `S = 0, 1, …, 10`: the value
//!    `c` with `S + c ≡ 1 (mod 11)` (MOD 11-2 over all 18 positions, `W_1 = 1`), `X` standing
//!    for 10.
//!
//! The standard's Appendix A gives `11010519491231002X` (Beijing, Chaoyang district) and
//! `440524188001010014` (Shantou, Guangdong) as examples; both are test vectors below.
//!
//! # The generator
//!
//! [`id_cards`] draws from ChaCha20 seeded with [`SeedableRng::seed_from_u64`], so a seed gives
//! the same numbers on every machine and run (the demo's printed figures and the benchmarks'
//! inputs depend on it; a unit test pins a few). Per number, five draws of 32 bits: the address
//! code in `110000..=659999`, the birth year in `1950..=2005` (or the years given to
//! [`id_cards_born_in`]), month `1..=12`, day `1..=28` (every such date exists, so no number
//! fails the birth-date check) and the sequence code in `000..=999`, each the draw modulo the
//! range's size (a bias below 2^-18, irrelevant for synthetic data). A number already drawn is
//! skipped, so the output is distinct.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// The weights `W_i = 2^(i-1) mod 11` of the first 17 characters, left to right
/// (GB 11643-1999 §5.5.1).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for `S = Σ a_i·W_i mod 11`, indexed by `S` (§5.5.2).
const CHECK: [u8; 11] = *b"10X98765432";

/// The GB 11643-1999 check character of an 18-character resident ID number, from its first 17
/// characters, or `None` unless they are exactly 17 ASCII digits. The module docs give the
/// computation.
///
/// ```
/// use unseen_data::synth::id_card_check_char;
///
/// assert_eq!(id_card_check_char("11010519491231002"), Some('X'));
/// assert_eq!(id_card_check_char("1101051949123100"), None);
/// ```
pub fn id_card_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    (b.len() == 17 && b.iter().all(u8::is_ascii_digit)).then(|| char::from(check_byte(b)))
}

/// The complete 18-character number of `first17` (17 ASCII digits), or `None` as
/// [`id_card_check_char`].
///
/// ```
/// assert_eq!(
///     unseen_data::synth::id_card("44052418800101001").as_deref(),
///     Some("440524188001010014")
/// );
/// ```
pub fn id_card(first17: &str) -> Option<String> {
    id_card_check_char(first17).map(|c| format!("{first17}{c}"))
}

/// The check character (ASCII) of 17 ASCII digits; the caller has checked them (the key
/// normaliser, on its way to validating the check character, shares this one computation).
pub(crate) fn check_byte(first17: &[u8]) -> u8 {
    let s: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d.wrapping_sub(b'0')) * w)
        .sum();
    // `s % 11` is below 11 = CHECK.len().
    CHECK[(s % 11) as usize]
}

/// `n` distinct synthetic resident ID numbers from `seed`, born in 1950–2005 (see the
/// [module docs](self) for the distribution). The same seed always gives the same numbers, and
/// a longer list from the same seed starts with the shorter one.
pub fn id_cards(seed: u64, n: usize) -> Vec<String> {
    id_cards_born_in(seed, n, 1950..=2005)
}

/// [`id_cards`] with the birth years drawn uniformly from `years` instead (the year is
/// `start + r mod (end - start + 1)` for the second 32-bit draw `r` of each number).
///
/// # Panics
///
/// If `years` is empty or reaches outside `1900..=2100`, the years the `id-card` key rules
/// accept.
pub fn id_cards_born_in(seed: u64, n: usize, years: RangeInclusive<u32>) -> Vec<String> {
    let (first_year, last_year) = (*years.start(), *years.end());
    assert!(
        1900 <= first_year && first_year <= last_year && last_year <= 2100,
        "birth years {first_year}..={last_year} are not within 1900..=2100"
    );
    let span = last_year - first_year + 1;
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let first17 = format!(
            "{:06}{:04}{:02}{:02}{:03}",
            110_000 + r.next_u32() % 550_000,
            first_year + r.next_u32() % span,
            1 + r.next_u32() % 12,
            1 + r.next_u32() % 28,
            r.next_u32() % 1000
        );
        // 6 + 4 + 2 + 2 + 3 digits: every field is below its width's power of ten.
        let id = format!("{first17}{}", char::from(check_byte(first17.as_bytes())));
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyError, KeyType, normalize_key};

    /// GB 11643-1999 Appendix A's examples (reprinted wherever the standard is explained).
    #[test]
    fn appendix_a_examples() {
        assert_eq!(id_card_check_char("11010519491231002"), Some('X'));
        assert_eq!(id_card_check_char("44052418800101001"), Some('4'));
        assert_eq!(
            id_card("11010519491231002").as_deref(),
            Some("11010519491231002X")
        );
        // The first passes the key rules; the second was born in 1880, before the plausible
        // years the normaliser accepts (key.rs step 3), which is the only thing it objects to.
        assert_eq!(
            normalize_key(KeyType::IdCard, "11010519491231002x").unwrap(),
            "11010519491231002X"
        );
        assert_eq!(
            normalize_key(KeyType::IdCard, "440524188001010014"),
            Err(KeyError::IdCardBirthYear { year: 1880 })
        );
    }

    #[test]
    fn weights_are_the_standards_formula() {
        // Position i from the right (check character at 1): W_i = 2^(i-1) mod 11.
        for (i, &w) in (2..=18u32).rev().zip(&WEIGHTS) {
            assert_eq!(w, (1u32 << (i - 1)) % 11, "position {i}");
        }
        // The table is the c with S + c ≡ 1 (mod 11), X for 10.
        for (s, &c) in (0..11u32).zip(&CHECK) {
            let v = if c == b'X' { 10 } else { u32::from(c - b'0') };
            assert_eq!((s + v) % 11, 1, "S = {s}");
        }
    }

    #[test]
    #[should_panic(expected = "not within 1900..=2100")]
    fn birth_years_outside_the_key_rules_are_refused() {
        let _ = id_cards_born_in(1, 1, 1880..=1990);
    }

    #[test]
    fn only_seventeen_ascii_digits_have_a_check_character() {
        for bad in [
            "",
            "1101051949123100",
            "110105194912310023",
            "1101051949123100a",
        ] {
            assert_eq!(id_card_check_char(bad), None, "{bad:?}");
        }
        // Full-width digits are 17 characters but not ASCII.
        assert_eq!(
            id_card_check_char("１１０１０５１９４９１２３１００２"),
            None
        );
        assert_eq!(id_card("x"), None);
    }

    /// The numbers the CLI's generator (demo, benchmarks) and the test kit's (born 1940–2005)
    /// gave before they moved here, taken from a run of the old code: the same seed must keep
    /// giving them.
    #[test]
    fn seeds_give_the_numbers_they_always_gave() {
        assert_eq!(
            id_cards_born_in(7, 4, 1940..=2005),
            [
                "388777197305071181",
                "332019197712277922",
                "461470195806211350",
                "603936199608192663"
            ]
        );
        assert_eq!(
            id_cards(7, 4),
            [
                "388777200505071180",
                "332019199712277921",
                "461470198806211354",
                "603936199208192664"
            ]
        );
        assert_eq!(
            id_cards(2026, 4),
            [
                "114818195007105761",
                "168943198010200266",
                "470590195709021637",
                "301089195601225787"
            ]
        );
        let long = id_cards(2026, 10_000);
        assert_eq!(long[9_999], "508394198907116924");
        assert_eq!(long[..4], id_cards(2026, 4)[..]);
    }

    /// Property: every generated number is distinct and passes the crate's own `id-card`
    /// normalisation unchanged; changing its check character makes it fail with the expected
    /// one named.
    #[test]
    fn every_generated_number_validates() {
        for seed in 0..20 {
            let ids = id_cards(seed, 500);
            let distinct: HashSet<&String> = ids.iter().collect();
            assert_eq!(distinct.len(), ids.len(), "seed {seed}");
            for id in &ids {
                assert_eq!(normalize_key(KeyType::IdCard, id).as_ref(), Ok(id));
                let expected = char::from(id.as_bytes()[17]);
                let found = if expected == '0' { '1' } else { '0' };
                assert_eq!(
                    normalize_key(KeyType::IdCard, &format!("{}{found}", &id[..17])),
                    Err(KeyError::IdCardCheckDigit { found, expected }),
                    "{id}"
                );
            }
        }
        for id in id_cards_born_in(3, 200, 1900..=1900)
            .iter()
            .chain(&id_cards_born_in(4, 200, 2100..=2100))
        {
            assert_eq!(normalize_key(KeyType::IdCard, id).as_ref(), Ok(id));
        }
        // Every check value 0..=10 occurs.
        let last: HashSet<u8> = id_cards(1, 200)
            .iter()
            .map(|id| id.as_bytes()[17])
            .collect();
        assert_eq!(last.len(), 11);
    }
}
