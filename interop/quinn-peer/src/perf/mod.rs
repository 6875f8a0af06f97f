//! The perf protocol of draft-banks-quic-performance on quinn (ALPN `perf`),
//! with the flags and result lines of `kite perf`: on each bidirectional
//! stream the client writes the byte count it wants back (8 bytes,
//! big-endian), its upload and FIN; the server discards the upload, sends the
//! requested bytes and finishes once both are done.

pub mod client;
pub mod server;

use anyhow::{Context, Result};
use bytes::Bytes;
use quinn::{RecvStream, SendStream};
use std::sync::atomic::{AtomicU64, Ordering};

/// ALPN of the perf protocol.
pub const PERF_ALPN: &str = "perf";

/// Bytes handed to quinn per write, each a slice of one static buffer: the
/// peer allocates and copies nothing per write, as kite's does.
const WRITE_CHUNK: usize = 64 * 1024;

static ZEROS: [u8; WRITE_CHUNK] = [0; WRITE_CHUNK];

/// Parses a byte count: digits with an optional `K`, `M`, `G` or `T` (either
/// case, powers of 1024), as `kite perf` does.
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

/// Writes `count` zero bytes without finishing, adding each write to `progress`.
async fn send_zeros(send: &mut SendStream, count: u64, progress: Option<&AtomicU64>) -> Result<()> {
    let mut sent = 0u64;
    while sent < count {
        let len = (count - sent).min(WRITE_CHUNK as u64) as usize;
        send.write_chunk(Bytes::from_static(&ZEROS).slice(..len))
            .await
            .context("writing")?;
        sent += len as u64;
        if let Some(progress) = progress {
            progress.fetch_add(len as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Reads and drops everything up to FIN, adding each chunk to `progress`;
/// returns the byte count.
async fn drain(mut recv: RecvStream, progress: Option<&AtomicU64>) -> Result<u64> {
    let mut received = 0u64;
    while let Some(chunk) = recv.read_chunk(usize::MAX, true).await.context("reading")? {
        let len = chunk.bytes.len() as u64;
        received += len;
        if let Some(progress) = progress {
            progress.fetch_add(len, Ordering::Relaxed);
        }
    }
    Ok(received)
}

/// Megabits per second of `bytes` in `secs` (0 for no time at all).
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
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("12"), Ok(12));
        assert!(parse_size("1.5G").is_err());
    }
}
