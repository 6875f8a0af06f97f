//! Transport errors as they go on the wire (RFC 9000 §20.1, RFC 9001 §4.8).
//!
//! A [`TransportError`] is built where a violation is found, with the code its
//! RFC section names, the frame type that carried it (if any) and a static reason
//! that ends up in the CONNECTION_CLOSE frame.

use std::fmt;

/// A QUIC transport error code (RFC 9000 §20.1); TLS alerts map to
/// `0x0100 + alert` (RFC 9001 §4.8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportErrorCode(pub u64);

macro_rules! transport_codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl TransportErrorCode {
            $($(#[$doc])* pub const $name: TransportErrorCode = TransportErrorCode($value);)*

            /// The RFC's name for a code, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    0x0100..=0x01ff => Some("CRYPTO_ERROR"),
                    _ => None,
                }
            }
        }
    };
}

transport_codes! {
    /// The connection is being closed abruptly without any error.
    NO_ERROR = 0x00;
    /// The endpoint hit an error it cannot attribute to the peer.
    INTERNAL_ERROR = 0x01;
    /// The server refuses to accept a new connection.
    CONNECTION_REFUSED = 0x02;
    /// Data was received past the advertised flow-control limits.
    FLOW_CONTROL_ERROR = 0x03;
    /// A stream was opened past the advertised stream limit.
    STREAM_LIMIT_ERROR = 0x04;
    /// A frame arrived for a stream in a state that does not allow it.
    STREAM_STATE_ERROR = 0x05;
    /// A final size was changed or data went past it.
    FINAL_SIZE_ERROR = 0x06;
    /// A frame was badly formatted or of an unknown type.
    FRAME_ENCODING_ERROR = 0x07;
    /// Transport parameters were malformed, invalid or missing.
    TRANSPORT_PARAMETER_ERROR = 0x08;
    /// More connection IDs were provided than the active_connection_id_limit.
    CONNECTION_ID_LIMIT_ERROR = 0x09;
    /// A protocol violation not covered by a more specific code.
    PROTOCOL_VIOLATION = 0x0a;
    /// A Retry or NEW_TOKEN token was invalid (RFC 9000 §8.1.3).
    INVALID_TOKEN = 0x0b;
    /// The application or application protocol caused the close.
    APPLICATION_ERROR = 0x0c;
    /// More CRYPTO data arrived than can be buffered.
    CRYPTO_BUFFER_EXCEEDED = 0x0d;
    /// An error in key update (RFC 9001 §6).
    KEY_UPDATE_ERROR = 0x0e;
    /// The AEAD integrity limit was reached (RFC 9001 §6.6).
    AEAD_LIMIT_REACHED = 0x0f;
    /// No viable network path exists.
    NO_VIABLE_PATH = 0x10;
    /// Version negotiation failed (RFC 9368 §4).
    VERSION_NEGOTIATION_ERROR = 0x11;
}

impl TransportErrorCode {
    /// The code carrying TLS alert `alert` (RFC 9001 §4.8).
    pub const fn crypto(alert: u8) -> Self {
        TransportErrorCode(0x0100 + alert as u64)
    }
}

impl fmt::Debug for TransportErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some("CRYPTO_ERROR") => write!(f, "CRYPTO_ERROR({:#x})", self.0 - 0x100),
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN({:#x})", self.0),
        }
    }
}

impl fmt::Display for TransportErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A transport-level error: what a CONNECTION_CLOSE of type 0x1c carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TransportError {
    /// The RFC error code.
    pub code: TransportErrorCode,
    /// The type of the frame that triggered the error, if one did.
    pub frame_type: Option<u64>,
    /// Human-readable reason, sent to the peer.
    pub reason: &'static str,
}

impl TransportError {
    /// An error with `code` and `reason`, not tied to a frame.
    pub const fn new(code: TransportErrorCode, reason: &'static str) -> Self {
        TransportError {
            code,
            frame_type: None,
            reason,
        }
    }

    /// Attaches the frame type that caused the error.
    pub const fn with_frame(mut self, frame_type: u64) -> Self {
        self.frame_type = Some(frame_type);
        self
    }

    /// PROTOCOL_VIOLATION with `reason`.
    pub const fn protocol_violation(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::PROTOCOL_VIOLATION, reason)
    }

    /// FRAME_ENCODING_ERROR with `reason`.
    pub const fn frame_encoding(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::FRAME_ENCODING_ERROR, reason)
    }

    /// TRANSPORT_PARAMETER_ERROR with `reason`.
    pub const fn transport_parameter(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::TRANSPORT_PARAMETER_ERROR, reason)
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(ty) = self.frame_type {
            write!(f, " in frame {ty:#x}")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_with_their_rfc_names() {
        assert_eq!(
            TransportErrorCode::FLOW_CONTROL_ERROR.to_string(),
            "FLOW_CONTROL_ERROR"
        );
        assert_eq!(
            TransportErrorCode::crypto(0x78).to_string(),
            "CRYPTO_ERROR(0x78)"
        );
        assert_eq!(TransportErrorCode(0x99).to_string(), "UNKNOWN(0x99)");
    }

    #[test]
    fn error_display_names_code_frame_and_reason() {
        let err = TransportError::frame_encoding("short").with_frame(0x08);
        assert_eq!(err.to_string(), "FRAME_ENCODING_ERROR in frame 0x8: short");
    }
}
