//! Key normalisation: GB 11643 identity numbers, mobile numbers, strings.

use unseen_data::{KeyError, KeyType, normalize_key};

use crate::util::id;

fn idc(raw: &str) -> Result<String, KeyError> {
    normalize_key(KeyType::IdCard, raw)
}

fn phone(raw: &str) -> Result<String, KeyError> {
    normalize_key(KeyType::Phone, raw)
}

#[test]
fn gb11643_standard_example() {
    // GB 11643-1999, Appendix A: 11010519491231002X (the check character's own vectors are in
    // `unseen_data::synth`).
    assert_eq!(idc("11010519491231002X").unwrap(), "11010519491231002X");
    assert_eq!(idc(" 11010519491231002x\t").unwrap(), "11010519491231002X");
}

#[test]
fn computed_check_digits_are_accepted() {
    for (area, birth, seq) in [
        ("440305", "19900307", 123),
        ("310101", "20000229", 1),
        ("510107", "19791015", 998),
        ("650102", "21001231", 456),
        ("370202", "19000101", 77),
    ] {
        let n = id(area, birth, seq);
        assert_eq!(idc(&n).unwrap(), n, "{n}");
        assert_eq!(idc(&n.to_lowercase()).unwrap(), n);
    }
    // Every check value 0..=10 occurs for some sequence number; all must round-trip.
    let mut seen = std::collections::HashSet::new();
    for seq in 0..200 {
        let n = id("110105", "19850615", seq);
        seen.insert(n.chars().last().unwrap());
        assert_eq!(idc(&n).unwrap(), n);
    }
    assert_eq!(seen.len(), 11);
}

#[test]
fn wrong_check_digit() {
    assert_eq!(
        idc("110105194912310023"),
        Err(KeyError::IdCardCheckDigit {
            found: '3',
            expected: 'X'
        })
    );
    assert_eq!(
        idc("110105194912310023").unwrap_err().to_string(),
        "invalid id-card number: check digit is 3, expected X"
    );
}

#[test]
fn legacy_15_digit_numbers_are_converted() {
    // The 15-digit predecessor of the standard's example number.
    assert_eq!(idc("110105491231002").unwrap(), "11010519491231002X");
    assert_eq!(
        idc("440305900307123").unwrap(),
        id("440305", "19900307", 123)
    );
    assert_eq!(
        idc("440305900230123"),
        Err(KeyError::IdCardBirthDay {
            year: 1990,
            month: 2,
            day: 30
        })
    );
    assert_eq!(
        idc("44030590030712X"),
        Err(KeyError::IdCardCharacter {
            position: 15,
            found: 'X'
        })
    );
}

#[test]
fn id_card_structure_errors() {
    assert_eq!(idc(""), Err(KeyError::Empty));
    assert_eq!(idc("   "), Err(KeyError::Empty));
    assert_eq!(
        idc("11010519491231002"),
        Err(KeyError::IdCardLength { found: 17 })
    );
    assert_eq!(
        idc("11010519491231002").unwrap_err().to_string(),
        "invalid id-card number: expected 18 digits (or 15 for a legacy number), found 17"
    );
    assert_eq!(
        idc("1101051949123100222"),
        Err(KeyError::IdCardLength { found: 19 })
    );
    assert_eq!(
        idc("1101051949123100X2"),
        Err(KeyError::IdCardCharacter {
            position: 17,
            found: 'X'
        })
    );
    assert_eq!(
        idc("11010519491231002Y"),
        Err(KeyError::IdCardCharacter {
            position: 18,
            found: 'Y'
        })
    );
    assert_eq!(
        idc("11010519491231002Y").unwrap_err().to_string(),
        "invalid id-card number: character 18 is 'Y', expected a digit or X"
    );
    // Full-width digits are characters, not digits.
    assert_eq!(
        idc("１1010519491231002X"),
        Err(KeyError::IdCardCharacter {
            position: 1,
            found: '１'
        })
    );
}

#[test]
fn id_card_birth_dates() {
    let with_birth = |birth: &str| idc(&id("110105", birth, 2));
    assert_eq!(
        with_birth("19491331"),
        Err(KeyError::IdCardBirthMonth { month: 13 })
    );
    assert_eq!(
        with_birth("19490001"),
        Err(KeyError::IdCardBirthMonth { month: 0 })
    );
    assert_eq!(
        with_birth("19490100"),
        Err(KeyError::IdCardBirthDay {
            year: 1949,
            month: 1,
            day: 0
        })
    );
    assert_eq!(
        with_birth("19490631"),
        Err(KeyError::IdCardBirthDay {
            year: 1949,
            month: 6,
            day: 31
        })
    );
    assert_eq!(
        with_birth("19000229"),
        Err(KeyError::IdCardBirthDay {
            year: 1900,
            month: 2,
            day: 29
        })
    );
    assert!(with_birth("20000229").is_ok());
    assert!(with_birth("20240229").is_ok());
    assert_eq!(
        with_birth("18991231"),
        Err(KeyError::IdCardBirthYear { year: 1899 })
    );
    assert_eq!(
        with_birth("21010101"),
        Err(KeyError::IdCardBirthYear { year: 2101 })
    );
}

#[test]
fn phone_variants() {
    for raw in [
        "13812345678",
        " 13812345678 ",
        "138 1234 5678",
        "138-1234-5678",
        "(138) 1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "(+86) 138-1234-5678",
        "008613812345678",
        "0086 138 1234 5678",
        "8613812345678",
        "86-138-1234-5678",
    ] {
        assert_eq!(phone(raw).unwrap(), "13812345678", "{raw:?}");
    }
    for first_two in ["13", "14", "15", "16", "17", "18", "19"] {
        let n = format!("{first_two}012345678");
        assert_eq!(phone(&n).unwrap(), n);
    }
}

#[test]
fn phone_errors() {
    assert_eq!(phone(""), Err(KeyError::Empty));
    assert_eq!(phone(" - "), Err(KeyError::Empty));
    assert_eq!(
        phone("1381234567"),
        Err(KeyError::PhoneLength { found: 10 })
    );
    assert_eq!(
        phone("138123456789"),
        Err(KeyError::PhoneLength { found: 12 })
    );
    assert_eq!(
        phone("+86 1381234567"),
        Err(KeyError::PhoneLength { found: 10 })
    );
    // "86" is a prefix only when 11 digits follow; 12 digits starting 86 are just too long.
    assert_eq!(
        phone("861381234567"),
        Err(KeyError::PhoneLength { found: 12 })
    );
    assert_eq!(phone("+1 415 555 2671"), Err(KeyError::PhoneCountryCode));
    assert_eq!(
        phone("138a1234567"),
        Err(KeyError::PhoneCharacter { found: 'a' })
    );
    assert_eq!(
        phone("12812345678"),
        Err(KeyError::PhonePrefix { found: "12".into() })
    );
    assert_eq!(
        phone("23812345678"),
        Err(KeyError::PhonePrefix { found: "23".into() })
    );
    assert_eq!(
        phone("1381234567").unwrap_err().to_string(),
        "invalid phone number: expected 11 digits, found 10"
    );
}

#[test]
fn strings_are_trimmed() {
    assert_eq!(normalize_key(KeyType::String, "  a b \r\n").unwrap(), "a b");
    assert_eq!(normalize_key(KeyType::String, "张三").unwrap(), "张三");
    assert_eq!(normalize_key(KeyType::String, " \t "), Err(KeyError::Empty));
}

#[test]
fn key_type_names() {
    for kt in KeyType::ALL {
        assert_eq!(kt.to_string().parse::<KeyType>().unwrap(), kt);
    }
    assert_eq!("id-card".parse::<KeyType>().unwrap(), KeyType::IdCard);
    let err = "idcard".parse::<KeyType>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown key type \"idcard\", expected one of: id-card, phone, string"
    );
}
