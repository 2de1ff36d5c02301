//! A progress bar on stderr, shown only when stdout is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use unseen_psi::Progress;

/// A bar that stays invisible until the first report (the total is known only after the
/// peer's hello), and for good when stdout is not a terminal.
pub(crate) fn bar(label: &'static str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>6} [{bar:40}] {human_pos}/{human_len} items, {elapsed} elapsed, eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(label);
    pb
}

/// Updates `pb` from a protocol progress report.
pub(crate) fn update(pb: &ProgressBar, p: Progress) {
    if pb.length() != Some(p.total) {
        pb.set_length(p.total);
        if std::io::stdout().is_terminal() && pb.is_hidden() {
            pb.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
    pb.set_position(p.done);
}

/// A spinner on stderr for work without a count (reading, building, a query), shown only when
/// stdout is a terminal; its message names the phase.
pub(crate) fn spinner() -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}, {elapsed}") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
