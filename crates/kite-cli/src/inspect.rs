//! `kite inspect`: decodes a datagram's packets and, for Initial packets,
//! removes protection with the Initial keys of the packet's own DCID and
//! lists the frames.

use bytes::Bytes;
use kite_proto::crypto::{Keys, open_payload, remove_header_protection};
use kite_proto::frame::{Frame, Frames};
use kite_proto::packet::{Header, LongType, PacketNumber, PnLen, split_datagram};
use kite_proto::{Side, Version};
use std::fmt::Write;

/// Decodes `hex` and returns a human-readable report.
pub fn run(hex: &str, cid_len: usize) -> Result<String, String> {
    let compact: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    let datagram = hex::decode(compact).map_err(|e| format!("not hex: {e}"))?;
    let mut out = String::new();
    let _ = writeln!(out, "datagram: {} bytes", datagram.len());
    for packet in split_datagram(&datagram, cid_len) {
        let packet = match packet {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(out, "  rest undecodable: {e}");
                break;
            }
        };
        let range = packet.range.clone();
        let _ = write!(out, "  [{}..{}] ", range.start, range.end);
        match packet.header {
            Header::Long { header, pn_offset } => {
                let _ = writeln!(
                    out,
                    "{:?} {} dcid={} scid={} token={}B",
                    header.ty,
                    header.version,
                    header.dcid,
                    header.scid,
                    header.token.len()
                );
                if header.ty == LongType::Initial {
                    let bytes = datagram.get(range).unwrap_or_default().to_vec();
                    describe_initial(&mut out, bytes, header.version, &header.dcid, pn_offset);
                }
            }
            Header::Short { header, .. } => {
                let _ = writeln!(out, "1-RTT dcid={}", header.dcid);
            }
            Header::Retry { retry, .. } => {
                let _ = writeln!(
                    out,
                    "Retry {} scid={} token={}B",
                    retry.version,
                    retry.scid,
                    retry.token.len()
                );
            }
            Header::VersionNegotiation(vn) => {
                let versions: Vec<String> = vn.versions().map(|v| v.to_string()).collect();
                let _ = writeln!(out, "Version Negotiation: {}", versions.join(", "));
            }
        }
    }
    Ok(out)
}

/// Opens a client Initial with the keys its DCID derives and lists frames.
fn describe_initial(
    out: &mut String,
    mut packet: Vec<u8>,
    version: Version,
    dcid: &[u8],
    pn_offset: usize,
) {
    // A server Initial is protected with the client's original DCID, which
    // the packet does not carry: only client Initials open here.
    let Ok(keys) = Keys::initial(version, dcid, Side::Server) else {
        return;
    };
    let Ok((truncated, pn_len)) =
        remove_header_protection(&keys.remote.header, &mut packet, pn_offset)
    else {
        let _ = writeln!(out, "    (too short to unprotect)");
        return;
    };
    let Some(len) = PnLen::new(pn_len) else {
        return;
    };
    let pn = PacketNumber::decode(None, truncated, len).0;
    let header_len = pn_offset + pn_len;
    match open_payload(&keys.remote.packet, pn, &mut packet, header_len) {
        Ok(range) => {
            let _ = writeln!(
                out,
                "    client Initial pn={pn}, {} payload bytes",
                range.len()
            );
            let payload = Bytes::from(packet).slice(range);
            for frame in Frames::new(payload, kite_proto::packet::PacketType::Initial) {
                match frame {
                    Ok(Frame::Crypto(c)) => {
                        let _ =
                            writeln!(out, "    CRYPTO offset={} len={}", c.offset, c.data.len());
                    }
                    Ok(Frame::Padding(n)) => {
                        let _ = writeln!(out, "    PADDING x{n}");
                    }
                    Ok(f) => {
                        let _ = writeln!(out, "    {:?}", f.frame_type());
                    }
                    Err(e) => {
                        let _ = writeln!(out, "    bad frame: {e}");
                        break;
                    }
                }
            }
        }
        Err(_) => {
            let _ = writeln!(out, "    (not a client Initial, or corrupted)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protected client Initial of RFC 9001 Appendix A.2, first bytes.
    const RFC9001_CLIENT_INITIAL_PREFIX: &str = "c000000001088394c8f03e5157080000449e7b9aec34";

    #[test]
    fn inspect_rejects_non_hex() {
        assert!(run("zz", 8).is_err());
    }

    /// A client Initial built and protected with kite-proto opens and lists
    /// its frames.
    #[test]
    fn inspect_opens_a_client_initial_and_lists_its_frames() {
        use kite_proto::ConnectionId;
        use kite_proto::crypto::{apply_header_protection, seal_payload};
        use kite_proto::frame::CryptoFrameHeader;
        use kite_proto::packet::LongHeader;

        let dcid = ConnectionId::new(&hex::decode("8394c8f03e515708").unwrap()).unwrap();
        let keys = Keys::initial(Version::V1, &dcid, Side::Client).unwrap();
        let mut buf = Vec::new();
        let layout = LongHeader {
            ty: LongType::Initial,
            version: Version::V1,
            dcid,
            scid: ConnectionId::EMPTY,
            token: &[],
        }
        .write(&mut buf, PacketNumber(2), PnLen::new(4).unwrap())
        .unwrap();
        CryptoFrameHeader { offset: 0, len: 5 }.encode(&mut buf);
        buf.extend_from_slice(b"hello");
        buf.resize(1200 - 16, 0);
        let payload_len = buf.len() - layout.header_len() + 16;
        layout.set_length(&mut buf, payload_len).unwrap();
        buf.resize(1200, 0);
        seal_payload(&keys.local.packet, 2, &mut buf, layout.header_len()).unwrap();
        apply_header_protection(&keys.local.header, &mut buf, layout.pn_offset, 4).unwrap();

        let report = run(&hex::encode(&buf), 8).unwrap();
        assert!(report.contains("client Initial pn=2"), "{report}");
        assert!(report.contains("CRYPTO offset=0 len=5"), "{report}");
        assert!(report.contains("PADDING"), "{report}");
    }

    #[test]
    fn inspect_reports_a_truncated_initial_without_panicking() {
        let report = run(RFC9001_CLIENT_INITIAL_PREFIX, 8).unwrap();
        assert!(report.contains("datagram: 22 bytes"), "{report}");
    }
}
