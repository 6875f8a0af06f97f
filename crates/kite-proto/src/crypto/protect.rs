//! In-place packet protection of byte buffers (RFC 9001 §5.3–5.4): AEAD over
//! the payload with the header as associated data, then header protection
//! sampled from the ciphertext. Knows offsets, not header formats: the caller
//! (the packet module) says where the header ends and the packet number starts.
//!
//! Buffer convention: a packet is one `&mut [u8]` holding exactly the packet
//! (not the rest of a coalesced datagram). Sealing expects [`TAG_LEN`] bytes
//! of room at its end, since the header's Length field, which the AEAD
//! authenticates, already counts the tag; nothing is allocated either way.

use super::{CryptoError, HeaderProtectionKey, PacketKey, SAMPLE_OFFSET};
#[cfg(doc)]
use super::{SAMPLE_LEN, TAG_LEN};
use std::ops::Range;

/// The first byte's Packet Number Length bits, the encoded length minus one
/// (RFC 9000 §17.2, §17.3.1).
const PN_LEN_MASK: u8 = 0x03;

/// Encrypts the payload of a packet in place and writes its tag (RFC 9001 §5.3).
///
/// `buf` holds the whole packet: the unprotected header in `buf[..header_len]`
/// (used as associated data, packet number included), the plaintext payload,
/// then [`TAG_LEN`] bytes of room, which are overwritten with the tag.
/// `packet_number` is the full packet number, which forms the nonce.
pub fn seal_payload(
    key: &PacketKey,
    packet_number: u64,
    buf: &mut [u8],
    header_len: usize,
) -> Result<(), CryptoError> {
    let tag_len = key.tag_len();
    let payload_end = buf
        .len()
        .checked_sub(tag_len)
        .filter(|&end| end >= header_len)
        .ok_or(CryptoError::BadInput("no room for header and tag"))?;
    let (rest, tag_room) = buf.split_at_mut(payload_end);
    let (header, payload) = rest.split_at_mut(header_len);
    let tag = key
        .0
        .encrypt_in_place(packet_number, header, payload)
        .map_err(|_| CryptoError::BadInput("payload too long for the AEAD"))?;
    let tag = tag.as_ref();
    if tag.len() != tag_room.len() {
        return Err(CryptoError::BadInput("tag length differs from the key's"));
    }
    tag_room.copy_from_slice(tag);
    Ok(())
}

/// Masks the first byte and the packet number field of a sealed packet
/// (RFC 9001 §5.4.1): the low 4 bits of the first byte for long headers, 5 for
/// short ones, and `pn_len` bytes at `pn_offset`. The sample is the
/// [`SAMPLE_LEN`] bytes starting 4 bytes after `pn_offset` (RFC 9001 §5.4.2),
/// so the packet must be at least `pn_offset + 4 + SAMPLE_LEN` long; the packet
/// module pads short payloads to get there.
///
/// `pn_len` must match the Packet Number Length bits of the first byte.
pub fn apply_header_protection(
    key: &HeaderProtectionKey,
    buf: &mut [u8],
    pn_offset: usize,
    pn_len: usize,
) -> Result<(), CryptoError> {
    let Some((first, pn_field, sample)) =
        split_for_header_protection(buf, pn_offset, key.sample_len())
    else {
        return Err(CryptoError::BadInput("packet too short to sample"));
    };
    if pn_len != usize::from(*first & PN_LEN_MASK) + 1 {
        return Err(CryptoError::BadInput(
            "pn_len disagrees with the first byte",
        ));
    }
    let pn_field = pn_field
        .get_mut(..pn_len)
        .ok_or(CryptoError::BadInput("pn_len past the sample"))?;
    key.0
        .encrypt_in_place(sample, first, pn_field)
        .map_err(|_| CryptoError::BadInput("header protection rejected its inputs"))
}

/// Unmasks the first byte and the packet number field of a received packet
/// (RFC 9001 §5.4.1) and returns the truncated packet number with its encoded
/// length (1 to 4 bytes), for the caller to expand (RFC 9000 §17.1) before
/// [`open_payload`].
///
/// Fails with [`CryptoError::PacketTooShort`] when the packet ends before the
/// end of the sample, which RFC 9001 §5.4.2 says to discard. On error the
/// buffer is unchanged.
pub fn remove_header_protection(
    key: &HeaderProtectionKey,
    buf: &mut [u8],
    pn_offset: usize,
) -> Result<(u32, usize), CryptoError> {
    let (first, pn_field, sample) = split_for_header_protection(buf, pn_offset, key.sample_len())
        .ok_or(CryptoError::PacketTooShort)?;
    // rustls reads the packet number length from the unmasked first byte and
    // unmasks only that many bytes of the (up to) 4 we hand it.
    key.0
        .decrypt_in_place(sample, first, pn_field)
        .map_err(|_| CryptoError::PacketTooShort)?;
    let pn_len = usize::from(*first & PN_LEN_MASK) + 1;
    let truncated = pn_field
        .iter()
        .take(pn_len)
        .fold(0u32, |pn, &byte| (pn << 8) | u32::from(byte));
    Ok((truncated, pn_len))
}

/// Decrypts and authenticates the payload of a packet in place
/// (RFC 9001 §5.3) and returns where the plaintext now lies in `buf`.
///
/// `buf` holds the whole packet with header protection already removed:
/// the header in `buf[..header_len]`, then ciphertext and tag.
/// `packet_number` is the full, decoded packet number. On failure the packet
/// must be discarded ([`CryptoError::DecryptFailed`], which counts toward the
/// key's integrity limit, or [`CryptoError::PacketTooShort`]); its payload
/// bytes are then unspecified (the AEAD may have overwritten them), so trying
/// another key needs a copy made beforehand.
pub fn open_payload(
    key: &PacketKey,
    packet_number: u64,
    buf: &mut [u8],
    header_len: usize,
) -> Result<Range<usize>, CryptoError> {
    let min_len = header_len
        .checked_add(key.tag_len())
        .ok_or(CryptoError::PacketTooShort)?;
    if buf.len() < min_len {
        return Err(CryptoError::PacketTooShort);
    }
    let (header, payload) = buf.split_at_mut(header_len);
    let plaintext = key
        .0
        .decrypt_in_place(packet_number, header, payload)
        .map_err(|_| CryptoError::DecryptFailed)?;
    Ok(header_len..header_len + plaintext.len())
}

/// Splits a packet into its first byte, the 4 bytes at `pn_offset` and the
/// `sample_len` bytes of header protection sample after them; `None` if the
/// packet is too short or `pn_offset` is 0 (the packet number never starts the
/// packet).
fn split_for_header_protection(
    buf: &mut [u8],
    pn_offset: usize,
    sample_len: usize,
) -> Option<(&mut u8, &mut [u8], &[u8])> {
    let sample_start = pn_offset.checked_add(SAMPLE_OFFSET)?;
    let sample_end = sample_start.checked_add(sample_len)?;
    if pn_offset == 0 || buf.len() < sample_end {
        return None;
    }
    let (first, rest) = buf.split_first_mut()?;
    // `rest` starts at offset 1 of the packet.
    let (head, tail) = rest.split_at_mut(sample_start - 1);
    let pn_field = head.get_mut(pn_offset - 1..)?;
    let sample = tail.get(..sample_len)?;
    Some((first, pn_field, sample))
}
