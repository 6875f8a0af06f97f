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
zero bytes and FIN, a few MiB at a time as acknowledgements free aioquic's
send buffer (ChunkedZeroSender), so any size runs in bounded memory.

`perf-client` is its client, with the flags and result lines of
`kite perf client`:

    aioquic_peer.py perf-client --connect ADDR [--server-name localhost] [--alpn perf]
                                [--download B] [--upload B] [--streams K] [--conns C]
                                [--handshakes N --concurrency C] [--ca F | --insecure]

It prints `perf download_bytes=D upload_bytes=U secs=S mbit_per_s=R` or
`handshakes count=N secs=S per_s=R` (see run_perf_client), or one `error:`
line on stderr and exits 1 when a stream gets back other than it asked for.
Uploads go out a few MiB at a time, as the server's responses do. No --stats.
Needs the venv made by scripts/setup-interop.
"""

import argparse
import asyncio
import contextlib
import datetime
import ipaddress
import os
import ssl
import sys
import time

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    StreamDataReceived,
    StreamReset,
)
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

# What a perf transfer downloads when neither --download nor --upload is given.
PERF_DEFAULT_DOWNLOAD = 100 << 20

# The size suffixes of `kite perf`: powers of 1024.
SIZE_SHIFTS = {"K": 10, "M": 20, "G": 30, "T": 40}

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


# Most bytes of one stream's perf data held in aioquic's send buffer. aioquic
# keeps a stream's unacknowledged data in one bytearray and trims its front on
# every ACK, so a whole response handed over at once costs memory for all of
# it and a copy of the rest per ACK; topping up as ACKs free room costs neither.
PERF_SEND_BUFFER = 4 << 20


class ChunkedZeroSender:
    """Mixin for a QuicConnectionProtocol: sends a stream's perf data (zeros)
    a buffer at a time, topping it up whenever the protocol transmits, which
    aioquic does after every received datagram and timer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._zeros_left: dict[int, int] = {}

    def send_zeros(self, stream_id: int, size: int) -> None:
        """Queues `size` zero bytes and then FIN on `stream_id`; they start
        going out at the next transmit()."""
        self._zeros_left[stream_id] = size

    def _top_up(self) -> None:
        for stream_id, left in list(self._zeros_left.items()):
            stream = self._quic._streams.get(stream_id)
            if stream is None:  # reset or gone with the connection
                del self._zeros_left[stream_id]
                continue
            # aioquic internals: the bytes sent or queued, not yet acknowledged.
            room = PERF_SEND_BUFFER - len(stream.sender._buffer)
            chunk = min(max(room, 0), left)
            if chunk == 0 and left > 0:
                continue  # full: wait for acknowledgements
            left -= chunk
            self._quic.send_stream_data(stream_id, bytes(chunk), end_stream=left == 0)
            if left == 0:
                del self._zeros_left[stream_id]
            else:
                self._zeros_left[stream_id] = left

    def transmit(self) -> None:
        self._top_up()
        super().transmit()


class PerfServerProtocol(ChunkedZeroSender, QuicConnectionProtocol):
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
                    self.send_zeros(event.stream_id, int.from_bytes(header, "big"))
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


def client_config(args) -> QuicConfiguration:
    """The client configuration of the echo and perf clients' flags. Without a
    session ticket or a token handler every handshake is a full one."""
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
    return config


async def run_client(args) -> None:
    config = client_config(args)
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


def parse_size(text: str) -> int:
    """A byte count as `kite perf` takes it: digits and an optional K, M, G or
    T in either case (powers of 1024: 256M is 268435456)."""
    text = text.strip()
    shift = SIZE_SHIFTS.get(text[-1:].upper(), 0)
    digits = text[:-1] if shift else text
    if not digits.isascii() or not digits.isdigit():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: want digits and an optional K, M, G or T"
        )
    return int(digits) << shift


def share(total: int, parts: int, index: int) -> int:
    """Stream `index`'s part of `total` over `parts` streams, as kite splits
    it: equal shares, the first streams one byte more when it does not divide."""
    return total // parts + (index < total % parts)


class PerfClientProtocol(ChunkedZeroSender, QuicConnectionProtocol):
    """Runs perf requests at the QUIC event level: counts each response as it
    arrives (nothing is kept) and completes the request's future at its FIN."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ended: ConnectionTerminated | None = None
        self._received: dict[int, int] = {}
        self._done: dict[int, asyncio.Future[int]] = {}

    def request(self, download: int, upload: int) -> asyncio.Future:
        """Opens a stream and sends the request, `upload` zero bytes and FIN;
        the future gives the number of bytes that came back."""
        stream_id = self._quic.get_next_available_stream_id()
        self._received[stream_id] = 0
        self._done[stream_id] = self._loop.create_future()
        header = download.to_bytes(PERF_HEADER_LEN, "big")
        self._quic.send_stream_data(stream_id, header)
        self.send_zeros(stream_id, upload)
        self.transmit()
        return self._done[stream_id]

    def quic_event_received(self, event) -> None:
        if isinstance(event, StreamDataReceived) and event.stream_id in self._done:
            self._received[event.stream_id] += len(event.data)
            if event.end_stream:
                received = self._received.pop(event.stream_id)
                self._done.pop(event.stream_id).set_result(received)
        elif isinstance(event, StreamReset) and event.stream_id in self._done:
            error = f"stream {event.stream_id}: reset by the server, error {event.error_code}"
            self._done.pop(event.stream_id).set_exception(RuntimeError(error))
        elif isinstance(event, ConnectionTerminated):
            self.ended = event
            for done in self._done.values():
                done.set_exception(RuntimeError(describe(event)))
            self._done.clear()


@contextlib.asynccontextmanager
async def perf_connection(args, config):
    """aioquic's connect() with a PerfClientProtocol, once the handshake is
    done; a failed handshake raises an error that says why."""
    host, port = split_addr(args.connect)
    protocols: list[PerfClientProtocol] = []

    def protocol(*a, **kw):
        protocols.append(PerfClientProtocol(*a, **kw))
        return protocols[-1]

    try:
        async with connect(
            host, port, configuration=config, create_protocol=protocol
        ) as client:
            yield client
    except ConnectionError as e:
        raise RuntimeError(describe(protocols[-1].ended if protocols else None)) from e


async def perf_transfer(args, config, download: int, upload: int) -> tuple[float, int]:
    """One connection's streams, all at once; checks that each stream got
    exactly its share back. Returns when the last stream ended (the clock
    stops there, before aioquic's closing period) and the bytes downloaded."""
    async with perf_connection(args, config) as client:
        wanted = [share(download, args.streams, i) for i in range(args.streams)]
        uploads = [share(upload, args.streams, i) for i in range(args.streams)]
        requests = [client.request(want, up) for want, up in zip(wanted, uploads)]
        received = await asyncio.gather(*requests)
        finished = time.monotonic()
    for index, (got, want) in enumerate(zip(received, wanted)):
        if got != want:
            raise RuntimeError(f"stream {index}: {got} bytes came back, {want} asked for")
    return finished, sum(received)


async def perf_handshakes(args, config) -> None:
    """`--handshakes N` full handshakes, `--concurrency` at a time; each
    connection is closed as soon as its handshake is done."""
    started = 0
    closing: list[asyncio.Task] = []

    async def worker() -> None:
        nonlocal started
        while started < args.handshakes:
            started += 1
            # Leaving connect() waits out aioquic's closing period (three
            # PTOs); that runs as a task, so the next handshake need not wait.
            conn = contextlib.AsyncExitStack()
            await conn.enter_async_context(perf_connection(args, config))
            closing.append(asyncio.create_task(conn.aclose()))

    start = time.monotonic()
    workers = min(args.concurrency, args.handshakes)
    await asyncio.gather(*(worker() for _ in range(workers)))
    secs = time.monotonic() - start
    await asyncio.gather(*closing)
    per_s = args.handshakes / secs if secs > 0 else 0.0
    print(f"handshakes count={args.handshakes} secs={secs:.3f} per_s={per_s:.1f}", flush=True)


async def run_perf_client(args) -> None:
    """A transfer: `--conns` connections at once, each downloading and
    uploading the whole `--download`/`--upload` over `--streams` streams; or
    `--handshakes`. Uploads count once their stream is done (the server
    answers at the upload's FIN); secs covers handshakes and transfer, as in
    `kite perf client`, and rates are in 10^6 bit/s."""
    config = client_config(args)
    if args.handshakes is not None:
        await perf_handshakes(args, config)
        return
    if args.download is None and args.upload is None:
        download, upload = PERF_DEFAULT_DOWNLOAD, 0
    else:
        download, upload = args.download or 0, args.upload or 0
    start = time.monotonic()
    runs = (perf_transfer(args, config, download, upload) for _ in range(args.conns))
    results = await asyncio.gather(*runs)
    secs = max(finished for finished, _ in results) - start
    down = sum(received for _, received in results)
    up = upload * args.conns
    rate = (down + up) * 8 / secs / 1e6 if secs > 0 else 0.0
    print(
        f"perf download_bytes={down} upload_bytes={up} secs={secs:.3f} mbit_per_s={rate:.1f}",
        flush=True,
    )


def check_perf_flags(parser, args) -> None:
    """Refuses what `kite perf client` refuses (counts below 1, a transfer's
    flags with --handshakes), then fills in the default counts."""
    counts = {"streams": args.streams, "conns": args.conns, "concurrency": args.concurrency}
    for flag, count in counts.items():
        if count is not None and count < 1:
            parser.error(f"--{flag} must be at least 1")
    transfer = (args.download, args.upload, args.streams, args.conns)
    if args.handshakes is not None and any(flag is not None for flag in transfer):
        parser.error("--handshakes cannot be used with a transfer's flags")
    if args.concurrency is not None and args.handshakes is None:
        parser.error("--concurrency goes with --handshakes")
    args.streams, args.conns, args.concurrency = (count or 1 for count in counts.values())


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

    perf = sub.add_parser("perf-client", help="measure a perf transfer or handshake rate")
    perf.add_argument("--connect", required=True)
    perf.add_argument("--server-name", default="localhost")
    perf.add_argument("--alpn", default=PERF_ALPN)
    perf.add_argument("--download", type=parse_size)
    perf.add_argument("--upload", type=parse_size)
    # Counts default to 1 in check_perf_flags, which must see what was given.
    perf.add_argument("--streams", type=int)
    perf.add_argument("--conns", type=int)
    perf.add_argument("--handshakes", type=int)
    perf.add_argument("--concurrency", type=int)
    perf.add_argument("--ca")
    perf.add_argument("--insecure", action="store_true")

    args = parser.parse_args()
    is_server = args.command in ("echo-server", "perf-server")
    if is_server and bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    if args.command == "perf-client":
        check_perf_flags(parser, args)
    runs = {"echo-client": run_client, "perf-client": run_perf_client}
    try:
        asyncio.run(run_server(args) if is_server else runs[args.command](args))
    except Exception as e:  # one line on stderr, as the harness expects
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
