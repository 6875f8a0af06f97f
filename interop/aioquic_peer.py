#!/usr/bin/env python3
"""Echo server and client on aioquic: a peer for kite's interop tests.

Speaks quic-go's echo example, with the same flags and output lines as
`quinn-peer` (interop/quinn-peer):

    aioquic_peer.py echo-server --listen ADDR [--alpn A] [--cert F --key F]
                                [--retry] [--zero-rtt] [--max-conns M]
    aioquic_peer.py echo-client --connect ADDR [--server-name localhost] [--alpn A]
                                [--streams K] [--size N] [--ca F] [--insecure]
                                [--resume]

The server prints `listening on ADDR` first, echoes every bidirectional stream
and finishes it; with --max-conns it exits after M connections have ended,
printing `done conns=M retries=R` (R: connections that came through a Retry).
With --zero-rtt the server issues session tickets, which in aioquic always
allow 0-RTT. The client prints
`echo ok streams=K bytes=N secs=S` (N summed over all streams) or one `error:`
line on stderr and exits 1; with --resume it first connects only for a
session ticket, then resumes, sends its streams as 0-RTT data and appends
`zero_rtt_accepted=true|false`. SSLKEYLOGFILE is honoured by both roles.

`perf-server` (same server flags, ALPN `perf` by default) serves
draft-banks-quic-performance as `kite perf server` does: each bidirectional
stream starts with the 8-byte big-endian count of bytes the client wants back;
the upload after it is discarded, and at its FIN the server sends that many
zero bytes and FIN. The whole response is handed to aioquic at once, so it is
meant for test sizes (tens of MiB), not for benchmarks.
Needs the venv made by scripts/setup-interop.
"""

import argparse
import asyncio
import datetime
import ipaddress
import os
import ssl
import sys
import time

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, StreamDataReceived
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEFAULT_ALPN = "quic-echo-example"
PERF_ALPN = "perf"

# The perf request: how many bytes the client wants back, 8 bytes big-endian.
PERF_HEADER_LEN = 8

# Application error code of a perf stream that ended before its request.
PERF_BAD_REQUEST = 1

# aioquic's 1 MiB defaults would make flow control, not the peers, the limit on
# a loopback run of several MiB; these leave room for 8 streams of 1 MiB in flight.
MAX_DATA = 16 * 1024 * 1024
MAX_STREAM_DATA = 4 * 1024 * 1024

# How long --resume waits for a session ticket on its first connection.
TICKET_WAIT_SECS = 2.0

# Length after which pattern() repeats: 251 is prime, so byte i of stream s is
# (i * 31 + s) % 251 and any misplaced chunk shows up as a mismatch.
PATTERN_PERIOD = 251


def pattern(stream: int, size: int) -> bytes:
    """The `size` bytes the client sends on its `stream`-th stream (from 0)."""
    period = bytes((i * 31 + stream) % PATTERN_PERIOD for i in range(PATTERN_PERIOD))
    return (period * (size // PATTERN_PERIOD + 1))[:size]


def split_addr(addr: str) -> tuple[str, int]:
    """Splits `host:port` or `[v6]:port`."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host:
        raise ValueError(f"bad address {addr!r}: want host:port")
    return host.strip("[]"), int(port)


def key_log():
    """The file named by SSLKEYLOGFILE, opened for appending, or None."""
    path = os.environ.get("SSLKEYLOGFILE")
    return open(path, "a") if path else None


def self_signed(name: str = "localhost"):
    """A fresh ECDSA P-256 certificate for `name` and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


class EchoServerProtocol(QuicConnectionProtocol):
    """Echoes stream data as it arrives, at the QUIC event level (no asyncio
    streams), and reports the connection's end to `on_end`."""

    def __init__(self, *args, on_end, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_end = on_end

    def quic_event_received(self, event) -> None:
        if isinstance(event, StreamDataReceived):
            # Only client-initiated bidirectional streams (ID % 4 == 0) can be echoed.
            if event.stream_id % 4 == 0:
                self._quic.send_stream_data(
                    event.stream_id, event.data, end_stream=event.end_stream
                )
                self.transmit()
        elif isinstance(event, ConnectionTerminated):
            # aioquic keeps no public record of this; it is set when the
            # connection's first Initial carried a Retry token.
            self._on_end(retried=self._quic._retry_source_connection_id is not None)


class PerfServerProtocol(QuicConnectionProtocol):
    """Serves the perf protocol at the QUIC event level: keeps each stream's
    request header, drops the rest of the upload, and answers at its FIN."""

    def __init__(self, *args, on_end, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_end = on_end
        self._headers: dict[int, bytes] = {}

    def quic_event_received(self, event) -> None:
        if isinstance(event, StreamDataReceived):
            if event.stream_id % 4 != 0:
                return
            header = self._headers.get(event.stream_id, b"")
            if len(header) < PERF_HEADER_LEN:
                header += event.data[: PERF_HEADER_LEN - len(header)]
                self._headers[event.stream_id] = header
            if event.end_stream:
                del self._headers[event.stream_id]
                if len(header) < PERF_HEADER_LEN:
                    self._quic.reset_stream(event.stream_id, PERF_BAD_REQUEST)
                else:
                    size = int.from_bytes(header, "big")
                    self._quic.send_stream_data(event.stream_id, bytes(size), end_stream=True)
                self.transmit()
        elif isinstance(event, ConnectionTerminated):
            self._on_end(retried=self._quic._retry_source_connection_id is not None)


async def run_server(args) -> None:
    config = QuicConfiguration(
        is_client=False,
        alpn_protocols=[args.alpn],
        max_data=MAX_DATA,
        max_stream_data=MAX_STREAM_DATA,
        secrets_log_file=key_log(),
    )
    if args.cert:
        config.load_cert_chain(args.cert, args.key)
    else:
        config.certificate, config.private_key = self_signed()

    done = asyncio.Event()
    counts = {"conns": 0, "retries": 0}

    def on_end(retried: bool) -> None:
        counts["conns"] += 1
        counts["retries"] += retried
        if args.max_conns is not None and counts["conns"] >= args.max_conns:
            done.set()

    server_class = PerfServerProtocol if args.command == "perf-server" else EchoServerProtocol

    def protocol(*a, **kw):
        return server_class(*a, on_end=on_end, **kw)

    # Tickets by their label; each is taken once, so a replayed ClientHello
    # cannot resume (and send 0-RTT) twice with the same ticket.
    tickets = {}
    ticket_args = {}
    if args.zero_rtt:
        ticket_args = {
            "session_ticket_handler": lambda t: tickets.__setitem__(t.ticket, t),
            "session_ticket_fetcher": lambda label: tickets.pop(label, None),
        }

    host, port = split_addr(args.listen)
    server = await serve(
        host,
        port,
        configuration=config,
        create_protocol=protocol,
        retry=args.retry,
        **ticket_args,
    )
    bound = server._transport.get_extra_info("sockname")
    # The harness reads this line to learn the port, so it must come first, flushed.
    print(f"listening on {format_addr(bound)}", flush=True)
    await done.wait()
    server.close()
    print(f"done conns={counts['conns']} retries={counts['retries']}", flush=True)


def format_addr(sockname) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ipaddress.ip_address(host).version == 6 else f"{host}:{port}"


class EchoClientProtocol(QuicConnectionProtocol):
    """Remembers why the connection ended (aioquic's connect() only raises a bare
    ConnectionError when the handshake fails) and whether 0-RTT was accepted."""

    ended: ConnectionTerminated | None = None
    early_data_accepted: bool | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # aioquic's wait_connected() never returns when called after the
        # handshake completed (1.7: it marks the protocol connected only for a
        # waiter already parked), so the client waits on this instead.
        self.handshake_done = asyncio.Event()

    def quic_event_received(self, event) -> None:
        if isinstance(event, ConnectionTerminated):
            self.ended = event
            self.handshake_done.set()
        elif isinstance(event, HandshakeCompleted):
            self.early_data_accepted = event.early_data_accepted
            self.handshake_done.set()
        super().quic_event_received(event)


def describe(ended: ConnectionTerminated | None) -> str:
    if ended is None:
        return "connection failed"
    return (
        f"connection closed: error 0x{ended.error_code:x},"
        f" frame type {ended.frame_type}, {ended.reason_phrase!r}"
    )


async def echo_stream(client: QuicConnectionProtocol, index: int, size: int) -> None:
    """Sends the pattern on a new stream and checks that the echo matches it."""
    reader, writer = await client.create_stream()
    sent = pattern(index, size)
    writer.write(sent)
    writer.write_eof()
    got = await reader.read()
    if got != sent:
        diffs = (i for i, (a, b) in enumerate(zip(got, sent)) if a != b)
        at = next(diffs, min(len(got), len(sent)))
        raise RuntimeError(
            f"stream {index}: echo differs at byte {at} ({len(got)} of {size} bytes back)"
        )


async def run_client(args) -> None:
    config = QuicConfiguration(
        is_client=True,
        alpn_protocols=[args.alpn],
        server_name=args.server_name,
        max_data=MAX_DATA,
        max_stream_data=MAX_STREAM_DATA,
        secrets_log_file=key_log(),
    )
    if args.insecure:
        config.verify_mode = ssl.CERT_NONE
    elif args.ca:
        config.load_verify_locations(cafile=args.ca)
    else:
        raise RuntimeError("no trust anchors: give --ca FILE, or --insecure")

    host, port = split_addr(args.connect)
    protocols: list[EchoClientProtocol] = []

    def protocol(*a, **kw):
        protocols.append(EchoClientProtocol(*a, **kw))
        return protocols[-1]

    tickets = []
    got_ticket = asyncio.Event()

    def on_ticket(ticket) -> None:
        tickets.append(ticket)
        got_ticket.set()

    try:
        if args.resume:
            # A first connection only for its session ticket.
            async with connect(
                host,
                port,
                configuration=config,
                create_protocol=protocol,
                session_ticket_handler=on_ticket,
            ) as first:
                try:
                    await asyncio.wait_for(got_ticket.wait(), TICKET_WAIT_SECS)
                except asyncio.TimeoutError:
                    print("no session ticket; not resuming", file=sys.stderr)
                first.close()
            config.session_ticket = tickets[-1] if tickets else None

        # The clock covers the handshake and the transfer, as in quinn-peer.
        start = time.monotonic()
        async with connect(
            host,
            port,
            configuration=config,
            create_protocol=protocol,
            session_ticket_handler=on_ticket,
            # Resuming, streams are written at once: as 0-RTT data.
            wait_connected=not args.resume,
        ) as client:
            streams = (echo_stream(client, i, args.size) for i in range(args.streams))
            await asyncio.gather(*streams)
            await client.handshake_done.wait()
            secs = time.monotonic() - start
            client.close()
    except ConnectionError as e:
        raise RuntimeError(describe(protocols[-1].ended if protocols else None)) from e
    total = args.streams * args.size
    line = f"echo ok streams={args.streams} bytes={total} secs={secs:.3f}"
    if args.resume:
        accepted = bool(protocols[-1].early_data_accepted)
        line += f" zero_rtt_accepted={str(accepted).lower()}"
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    for name, alpn, help in [
        ("echo-server", DEFAULT_ALPN, "echo every bidirectional stream back"),
        ("perf-server", PERF_ALPN, "serve the perf protocol (draft-banks-quic-performance)"),
    ]:
        srv = sub.add_parser(name, help=help)
        srv.add_argument("--listen", required=True)
        srv.add_argument("--alpn", default=alpn)
        srv.add_argument("--cert")
        srv.add_argument("--key")
        srv.add_argument("--retry", action="store_true")
        srv.add_argument("--zero-rtt", action="store_true")
        srv.add_argument("--max-conns", type=int)

    cli = sub.add_parser("echo-client", help="send patterned streams and check the echo")
    cli.add_argument("--connect", required=True)
    cli.add_argument("--server-name", default="localhost")
    cli.add_argument("--alpn", default=DEFAULT_ALPN)
    cli.add_argument("--streams", type=int, default=1)
    cli.add_argument("--size", type=int, default=1024)
    cli.add_argument("--ca")
    cli.add_argument("--insecure", action="store_true")
    cli.add_argument("--resume", action="store_true")

    args = parser.parse_args()
    is_server = args.command in ("echo-server", "perf-server")
    if is_server and bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    try:
        asyncio.run(run_server(args) if is_server else run_client(args))
    except Exception as e:  # one line on stderr, as the harness expects
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
