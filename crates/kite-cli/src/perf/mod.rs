//! `kite perf server` and `kite perf client`: the perf protocol of
//! draft-banks-quic-performance (ALPN `perf`). On each bidirectional stream
//! the client writes the number of bytes it wants back (8 bytes, big-endian),
//! then its upload, then FIN; the server discards the upload and sends the
//! requested bytes, finishing once both are done. Shared here: the protocol
//! constants, byte sizes with suffixes, and the zero buffer both ends send.

pub mod client;
mod progress;
pub mod server;

use bytes::Bytes;

/// ALPN of the perf protocol.
pub const PERF_ALPN: &str = "perf";

/// Length of the request header: the byte count the client wants back.
const REQUEST_HEADER_LEN: usize = 8;

/// Bytes handed to a stream per write. Every write is a slice of one static
/// buffer, so sending allocates and copies nothing in the CLI itself.
const WRITE_CHUNK: usize = 64 * 1024;

/// What both ends send: zeros, never touched, shared by every write.
static ZEROS: [u8; WRITE_CHUNK] = [0; WRITE_CHUNK];

/// `len` (at most [`WRITE_CHUNK`]) zero bytes, without allocating.
fn zeros(len: usize) -> Bytes {
    Bytes::from_static(&ZEROS).slice(..len.min(WRITE_CHUNK))
}

/// Parses a byte count: digits with an optional suffix `K`, `M`, `G` or `T`
/// (either case, powers of 1024: `256M` is 268435456), e.g. for `clap`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 10),
        Some('M') => (&text[..text.len() - 1], 20),
        Some('G') => (&text[..text.len() - 1], 30),
        Some('T') => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    let count: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size: want digits and an optional K, M, G or T"))?;
    count
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Megabits per second of `bytes` moved in `secs` (0 for no time at all).
fn mbit_per_s(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 * 8.0 / secs / 1e6
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes_in_either_case() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("64K"), Ok(64 * 1024));
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
    }

    #[test]
    fn sizes_refuse_other_text_and_overflow() {
        for bad in ["", "K", "1.5G", "-1", "12X", "1 G", "1GB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn zeros_are_static_slices_of_the_asked_length() {
        assert_eq!(zeros(10).len(), 10);
        assert_eq!(zeros(WRITE_CHUNK).len(), WRITE_CHUNK);
        assert_eq!(zeros(WRITE_CHUNK + 1).len(), WRITE_CHUNK);
        assert!(zeros(100).iter().all(|&b| b == 0));
    }

    #[test]
    fn throughput_counts_bits() {
        assert_eq!(mbit_per_s(1_000_000, 1.0), 8.0);
        assert_eq!(mbit_per_s(5, 0.0), 0.0);
    }
}
