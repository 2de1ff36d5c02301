//! Secret scalars: zeroized on drop, never printed.

use zeroize::Zeroize;

use crate::PsiGroup;

/// A secret exponent of group `G`. `Debug` is redacted; the value is wiped on drop.
pub struct SecretScalar<G: PsiGroup + ?Sized>(pub(crate) G::Scalar);

impl<G: PsiGroup + ?Sized> SecretScalar<G> {
    /// Wraps a scalar. Hazardous: the caller must make sure it is secret and uniformly random.
    pub fn dangerous_from_scalar(s: G::Scalar) -> Self {
        Self(s)
    }

    /// The inner scalar, for implementations of [`PsiGroup`].
    pub fn expose(&self) -> &G::Scalar {
        &self.0
    }
}

impl<G: PsiGroup + ?Sized> Drop for SecretScalar<G> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<G: PsiGroup + ?Sized> core::fmt::Debug for SecretScalar<G> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretScalar(<redacted>)")
    }
}
