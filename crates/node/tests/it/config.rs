//! `node.toml`: every value's range checked at start, with the file and line.

use unseen_node::dir::RANGES;
use unseen_node::{Config, NodeError};

use crate::util::node;

/// The initialised node.toml with `edit` applied to its text, loaded again.
fn load_edited(edit: impl Fn(String) -> String) -> (Result<Config, NodeError>, String) {
    let f = node("bank-a");
    let text = std::fs::read_to_string(f.dir.config()).unwrap();
    let edited = edit(text);
    std::fs::write(f.dir.config(), &edited).unwrap();
    (Config::load(&f.dir), edited)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn out_of_range_values_are_refused_at_start_naming_file_and_line() {
    for (key, value) in [
        ("read_s", "9223372036854775807"),
        ("connect_s", "0"),
        ("handshake_s", "86401"),
        ("max_keys_per_day", "1000000001"),
        ("max_per_day", "-1"),
    ] {
        let (loaded, text) = load_edited(|t| {
            t.lines()
                .map(|l| {
                    if l.starts_with(&format!("{key} =")) {
                        format!("{key} = {value}")
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        });
        let err = loaded.unwrap_err();
        let line = line_of(&text, &format!("{key} = {value}"));
        assert!(
            matches!(&err, NodeError::ConfigAt { line: Some(l), .. } if *l == line),
            "{key} = {value}: {err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("node.toml:{line}: ")) && (value == "-1" || msg.contains(key)),
            "{msg}"
        );
        assert!(err.is_user_error());
    }
    // A number TOML cannot hold (u64::MAX): toml's own error, with the line too.
    let (loaded, text) =
        load_edited(|t| t.replace("read_s = 120", "read_s = 18446744073709551615"));
    let err = loaded.unwrap_err();
    let line = line_of(&text, "read_s = 1844");
    assert!(
        err.to_string().contains(&format!("node.toml:{line}: ")),
        "{err}"
    );
}

#[test]
fn the_defaults_are_in_range_and_every_key_is_documented() {
    let (loaded, _) = load_edited(|t| t);
    loaded.unwrap();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md"))
        .unwrap();
    for r in RANGES {
        let row = doc
            .lines()
            .find(|l| l.contains(&format!("`{}`", r.key)))
            .unwrap_or_else(|| panic!("docs/config.md does not list {}", r.key));
        assert!(
            row.contains(&format!("{} to {}", group(r.min), group(r.max))),
            "docs/config.md gives another range for {}: {row}",
            r.key
        );
    }
}

/// `86400` as docs write it: `86 400`.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[test]
fn a_non_loopback_api_needs_tls_at_every_start() {
    let (loaded, text) =
        load_edited(|t| t.replace("api = \"127.0.0.1:2\"", "api = \"0.0.0.0:7201\""));
    let err = loaded.unwrap_err();
    let line = line_of(&text, "api = \"0.0.0.0");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("node.toml:{line}: ")) && msg.contains("api_tls = true"),
        "{msg}"
    );
    let (loaded, _) = load_edited(|t| {
        t.replace("api = \"127.0.0.1:2\"", "api = \"0.0.0.0:7201\"")
            .replace("api_tls = false", "api_tls = true")
    });
    let c = loaded.unwrap();
    assert!(c.api_tls);
}
