//! unseen-node (in progress).
