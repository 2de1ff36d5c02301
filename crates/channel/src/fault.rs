//! [`Fault`]: whose fault an error is, the one classification every crate's error maps to.
//!
//! A failed job tells its operator what to do next, and that depends on who must act: fix a
//! file, fix the node's configuration, talk to the partner, look at the network, or report a
//! bug. Each library crate's error enum has a `fault()` that sorts its variants into these
//! classes (rustls sorts its errors by whose fault they are in the same way), so the node
//! branches on the class instead of on message text.

/// Whose fault an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// This side's input: a file or a value in it, a flag, a request, too few rows. The
    /// operator fixes the input and runs again.
    Input,
    /// This side's configuration: `node.toml`, a registry entry, a policy, a table or model
    /// that is missing or does not match. The operator fixes the node.
    Config,
    /// The partner: it refused, broke the protocol (a malformed, oversized or out-of-order
    /// message, an invalid point), or gave up on its side and said so.
    Partner,
    /// The network: the connection could not be opened, closed early, or timed out.
    Network,
    /// A bug or a failure of this machine (randomness, a full disk): please report.
    Internal,
}

impl Fault {
    /// Every class, in documentation order.
    pub const ALL: [Self; 5] = [
        Self::Input,
        Self::Config,
        Self::Partner,
        Self::Network,
        Self::Internal,
    ];

    /// The lowercase name used in JSON (`"fault": "partner"`) and the audit log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Config => "config",
            Self::Partner => "partner",
            Self::Network => "network",
            Self::Internal => "internal",
        }
    }

    /// Inverse of [`Fault::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
