//! A progress bar on stderr, shown only when stdout is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use unseen_psi::Progress;

/// Returns a bar and a callback for `unseen_psi::run_*`.
pub(crate) fn bar(label: &'static str) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} items ({per_sec}, eta {eta})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(label);
    pb
}

/// Updates `pb` from a protocol progress report.
pub(crate) fn update(pb: &ProgressBar, p: Progress) {
    if pb.length() != Some(p.total) {
        pb.set_length(p.total);
    }
    pb.set_position(p.done);
}
