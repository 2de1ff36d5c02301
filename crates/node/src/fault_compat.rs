//! Temporary: `fault()` for the protocol errors until their crates classify them.
#![allow(dead_code)]

use unseen_channel::Fault;

pub(crate) trait Classify {
    fn fault(&self) -> Fault;
}

impl Classify for unseen_psi::PsiError {
    fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            _ => Fault::Partner,
        }
    }
}
impl Classify for unseen_pir::PirError {
    fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            _ => Fault::Partner,
        }
    }
}
impl Classify for unseen_fl::FlError {
    fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            _ => Fault::Partner,
        }
    }
}
impl Classify for unseen_fl::lr::LrError {
    fn fault(&self) -> Fault {
        Fault::Partner
    }
}
impl Classify for unseen_transport::TransportError {
    fn fault(&self) -> Fault {
        Fault::Network
    }
}
