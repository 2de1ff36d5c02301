//! unseen-store (in progress).
