//! The configuration error shared by every builder.

use std::fmt;

/// A configuration value was rejected by a builder.
///
/// It names the field and says why, so a value read from a config file at run time can be
/// reported to the operator as it is.
///
/// ```
/// use backpressure::ConfigError;
/// let err = ConfigError::new("capacity", "must be at least 1, got 0");
/// assert_eq!(err.field(), "capacity");
/// assert_eq!(err.to_string(), "invalid `capacity`: must be at least 1, got 0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    reason: String,
}

impl ConfigError {
    /// A rejection of `field` for `reason`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }

    /// The name of the rejected setting.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why it was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}
