//! unseen-transport (in progress).
