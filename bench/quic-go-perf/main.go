// Command quic-go-perf speaks the perf protocol (draft-banks-quic-performance,
// ALPN "perf") on quic-go, with the flags and result lines of `kite perf` and
// quinn-peer's perf-server/perf-client, so that bench/compare.sh can run it as
// a third stack. On each bidirectional stream the client writes the byte
// count it wants back (8 bytes, big-endian), its upload and FIN; the server
// discards the upload while sending the requested bytes, then FIN.
//
// Built against Debian's quic-go 0.29 in GOPATH mode, offline:
// bench/build-quic-go-perf.sh.
//
// quic-go runs with its defaults, as quinn-peer runs quinn with quinn's
// (quinn-peer changes no transport setting): flow-control windows (512 KiB
// initial, auto-tuned up to 6 MB per stream and 15 MB per connection), no
// Retry, no address-validation tokens, 100 streams, path MTU discovery on.
// What is set, and why, is said where it is set: TLS 1.3 with an ECDSA P-256
// self-signed certificate (what rcgen makes for kite and quinn-peer, so every
// stack signs alike), no session resumption on the client (full handshakes),
// and one UDP socket for all of a client's connections (one endpoint, as kite
// and quinn-peer use).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lucas-clemente/quic-go"
)

const (
	perfALPN = "perf"
	// Name on the self-signed certificate and the client's default SNI.
	selfSignedName = "localhost"
	// Bytes per stream write, as kite and quinn-peer write: slices of one
	// static buffer, so nothing is allocated per write.
	writeChunk = 64 * 1024
	// What a transfer downloads without --download and --upload.
	defaultDownload = 100 << 20
	// Application error code of a normal close, as quinn-peer sends.
	doneCode = 0
)

var zeros [writeChunk]byte

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: quic-go-perf perf-server|perf-client [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "perf-server":
		err = runServer(os.Args[2:])
	case "perf-client":
		err = runClient(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q: want perf-server or perf-client", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

// sizeFlag parses a byte count: digits with an optional K, M, G or T (either
// case, powers of 1024), as `kite perf` does; set says it was given.
type sizeFlag struct {
	value uint64
	set   bool
}

func (s *sizeFlag) String() string { return strconv.FormatUint(s.value, 10) }

func (s *sizeFlag) Set(text string) error {
	text = strings.TrimSpace(text)
	shift := map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}
	digits, bits := text, uint(0)
	if n := len(text); n > 0 {
		if b, ok := shift[strings.ToUpper(text[n-1:])[0]]; ok {
			digits, bits = text[:n-1], b
		}
	}
	count, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || (count<<bits)>>bits != count {
		return fmt.Errorf("%q is not a size: want digits and an optional K, M, G or T", text)
	}
	s.value, s.set = count<<bits, true
	return nil
}

// ---- server ----

func runServer(args []string) error {
	fs := flag.NewFlagSet("perf-server", flag.ExitOnError)
	listen := fs.String("listen", "", "UDP address to bind; port 0 picks a free one (printed on the first line)")
	alpn := fs.String("alpn", perfALPN, "ALPN protocol to accept")
	certFile := fs.String("cert", "", "PEM certificate chain; a self-signed localhost one is made when absent")
	keyFile := fs.String("key", "", "PEM private key for --cert")
	maxConns := fs.Uint64("max-conns", 0, "exit after this many connections have ended (0: never)")
	_ = fs.Parse(args) // ExitOnError: Parse exits on a bad flag
	if *listen == "" {
		return errors.New("--listen is required")
	}
	var cert tls.Certificate
	var err error
	switch {
	case *certFile != "" && *keyFile != "":
		cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
	case *certFile == "" && *keyFile == "":
		cert, err = selfSigned()
	default:
		err = errors.New("--cert and --key go together")
	}
	if err != nil {
		return err
	}
	// QUIC is TLS 1.3 only (RFC 9001 §4.2); quic-go enforces it anyway.
	tlsConf := &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{*alpn},
		MinVersion:   tls.VersionTLS13,
	}
	// nil Config: all of quic-go's defaults (see the file's comment).
	listener, err := quic.ListenAddr(*listen, tlsConf, nil)
	if err != nil {
		return fmt.Errorf("binding %s: %w", *listen, err)
	}
	fmt.Printf("listening on %s\n", listener.Addr())

	// Accept in a tight loop: quic-go refuses new connections while 32
	// finished handshakes wait to be accepted, a limit we can't raise.
	ended := make(chan struct{})
	acceptErr := make(chan error, 1)
	go func() {
		for {
			conn, err := listener.Accept(context.Background())
			if err != nil {
				acceptErr <- err
				return
			}
			go func() {
				serveConnection(conn)
				ended <- struct{}{}
			}()
		}
	}()
	// Counts accepted connections that ended: quic-go hands Accept only
	// connections whose handshake completed, so one the client closes at
	// once (--handshakes) may never count.
	var count uint64
	for *maxConns == 0 || count < *maxConns {
		select {
		case <-ended:
			count++
		case err := <-acceptErr:
			return fmt.Errorf("accepting: %w", err)
		}
	}
	listener.Close()
	fmt.Printf("done conns=%d\n", count)
	return nil
}

// serveConnection serves every stream the client opens until it closes.
func serveConnection(conn quic.Connection) {
	var streams sync.WaitGroup
	defer streams.Wait()
	for {
		stream, err := conn.AcceptStream(context.Background())
		if err != nil {
			var app *quic.ApplicationError
			if !errors.As(err, &app) || !app.Remote {
				fmt.Fprintf(os.Stderr, "connection from %s: %v\n", conn.RemoteAddr(), err)
			}
			return
		}
		streams.Add(1)
		go func() {
			defer streams.Done()
			if err := serveStream(stream); err != nil {
				fmt.Fprintf(os.Stderr, "stream of %s: %v\n", conn.RemoteAddr(), err)
			}
		}()
	}
}

// serveStream reads the request, then drains the upload while it sends the
// requested bytes, and finishes once both are done.
func serveStream(stream quic.Stream) error {
	var header [8]byte
	if _, err := io.ReadFull(stream, header[:]); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	drained := make(chan error, 1)
	go func() {
		_, err := drain(stream, nil)
		drained <- err
	}()
	sendErr := sendZeros(stream, binary.BigEndian.Uint64(header[:]), nil)
	if err := <-drained; err != nil {
		return err
	}
	if sendErr != nil {
		return sendErr
	}
	return stream.Close() // FIN on the send side only
}

// sendZeros writes count zero bytes without finishing, adding each write to
// progress when given.
func sendZeros(w io.Writer, count uint64, progress *atomic.Uint64) error {
	for sent := uint64(0); sent < count; {
		n := count - sent
		if n > writeChunk {
			n = writeChunk
		}
		if _, err := w.Write(zeros[:n]); err != nil {
			return fmt.Errorf("writing: %w", err)
		}
		sent += n
		if progress != nil {
			progress.Add(n)
		}
	}
	return nil
}

// drain reads and drops everything up to FIN, adding each read to progress
// when given; returns the byte count.
func drain(r io.Reader, progress *atomic.Uint64) (uint64, error) {
	buf := make([]byte, writeChunk)
	var received uint64
	for {
		n, err := r.Read(buf)
		received += uint64(n)
		if progress != nil {
			progress.Add(uint64(n))
		}
		if err == io.EOF {
			return received, nil
		}
		if err != nil {
			return received, fmt.Errorf("reading: %w", err)
		}
	}
}

// selfSigned makes an ECDSA P-256 certificate for localhost, the key type
// rcgen gives kite and quinn-peer by default.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: selfSignedName},
		DNSNames:     []string{selfSignedName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// ---- client ----

// target is where and how every connection of a run dials.
type target struct {
	pconn   net.PacketConn
	server  net.Addr
	name    string
	tlsConf *tls.Config
}

func (t *target) dial() (quic.Connection, error) {
	// Dial returns once the handshake is complete. The nil Config keeps
	// quic-go's defaults; with no TokenStore no address token is kept.
	conn, err := quic.Dial(t.pconn, t.server, t.name, t.tlsConf, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", t.server, err)
	}
	return conn, nil
}

type work struct{ download, upload, streams uint64 }

func runClient(args []string) error {
	fs := flag.NewFlagSet("perf-client", flag.ExitOnError)
	connect := fs.String("connect", "", "server address, host:port")
	serverName := fs.String("server-name", selfSignedName, "name sent as SNI and checked against the certificate")
	alpn := fs.String("alpn", perfALPN, "ALPN protocol to offer")
	var download, upload sizeFlag
	fs.Var(&download, "download", "bytes each connection downloads (K, M, G, T: powers of 1024)")
	fs.Var(&upload, "upload", "bytes each connection uploads")
	streams := fs.Uint64("streams", 1, "streams per connection, each with an equal share of the work")
	conns := fs.Uint64("conns", 1, "connections at once, each doing the whole work")
	handshakeCount := fs.Uint64("handshakes", 0, "instead of a transfer: N full handshakes")
	concurrency := fs.Uint64("concurrency", 1, "handshakes in progress at once")
	caFile := fs.String("ca", "", "PEM file of certificates to trust as roots")
	insecure := fs.Bool("insecure", false, "accept any server certificate (the handshake signature is still checked)")
	_ = fs.Parse(args) // ExitOnError: Parse exits on a bad flag
	if *connect == "" {
		return errors.New("--connect is required")
	}
	if *streams == 0 || *conns == 0 || *concurrency == 0 {
		return errors.New("--streams, --conns and --concurrency must be at least 1")
	}
	server, err := net.ResolveUDPAddr("udp", *connect)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", *connect, err)
	}
	// No ClientSessionCache: no resumption, every handshake is a full one.
	tlsConf := &tls.Config{
		ServerName: *serverName,
		NextProtos: []string{*alpn},
		MinVersion: tls.VersionTLS13,
	}
	switch {
	case *insecure:
		// crypto/tls still checks the CertificateVerify signature against
		// the certificate's key; only the chain and name go unchecked.
		tlsConf.InsecureSkipVerify = true
	case *caFile != "":
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificate in %s", *caFile)
		}
	default:
		return errors.New("no trust anchors: give --ca FILE, or --insecure")
	}
	bind := &net.UDPAddr{IP: net.IPv4zero}
	if server.IP.To4() == nil {
		bind.IP = net.IPv6zero
	}
	pconn, err := net.ListenUDP("udp", bind)
	if err != nil {
		return fmt.Errorf("binding the UDP socket: %w", err)
	}
	t := &target{pconn: pconn, server: server, name: *serverName, tlsConf: tlsConf}
	if *handshakeCount > 0 {
		return handshakes(t, *handshakeCount, *concurrency)
	}
	w := work{download: download.value, upload: upload.value, streams: *streams}
	if !download.set && !upload.set {
		w.download = defaultDownload
	}
	return transfer(t, w, *conns)
}

// transfer runs conns connections at once, each doing w, and prints the
// result line; the connections are closed after it.
func transfer(t *target, w work, conns uint64) error {
	var downloaded, uploaded atomic.Uint64
	start := time.Now()
	done := make([]quic.Connection, conns)
	errs := make(chan error, conns)
	for i := uint64(0); i < conns; i++ {
		go func(i uint64) {
			conn, err := runConnection(t, w, &downloaded, &uploaded)
			done[i] = conn
			if err != nil {
				err = fmt.Errorf("connection %d: %w", i, err)
			}
			errs <- err
		}(i)
	}
	for i := uint64(0); i < conns; i++ {
		if err := <-errs; err != nil {
			return err
		}
	}
	secs := time.Since(start).Seconds()
	down, up := downloaded.Load(), uploaded.Load()
	fmt.Printf("perf download_bytes=%d upload_bytes=%d secs=%.3f mbit_per_s=%.1f\n",
		down, up, secs, mbitPerS(down+up, secs))
	for _, conn := range done {
		// Returns once the CONNECTION_CLOSE has been sent.
		_ = conn.CloseWithError(doneCode, "done")
	}
	return nil
}

func runConnection(t *target, w work, downloaded, uploaded *atomic.Uint64) (quic.Connection, error) {
	conn, err := t.dial()
	if err != nil {
		return nil, err
	}
	errs := make(chan error, w.streams)
	for i := uint64(0); i < w.streams; i++ {
		stream, err := conn.OpenStreamSync(context.Background())
		if err != nil {
			return conn, fmt.Errorf("opening stream %d: %w", i, err)
		}
		down, up := share(w.download, w.streams, i), share(w.upload, w.streams, i)
		go func(i uint64) {
			err := runStream(stream, down, up, downloaded, uploaded)
			if err != nil {
				err = fmt.Errorf("stream %d: %w", i, err)
			}
			errs <- err
		}(i)
	}
	for i := uint64(0); i < w.streams; i++ {
		if err := <-errs; err != nil {
			return conn, err
		}
	}
	return conn, nil
}

// share is stream index's part of total over parts streams.
func share(total, parts, index uint64) uint64 {
	n := total / parts
	if index < total%parts {
		n++
	}
	return n
}

// runStream sends the request, the upload and FIN while it drains the
// response, and checks that all the requested bytes came back.
func runStream(stream quic.Stream, download, upload uint64, downloaded, uploaded *atomic.Uint64) error {
	sent := make(chan error, 1)
	go func() {
		var header [8]byte
		binary.BigEndian.PutUint64(header[:], download)
		if _, err := stream.Write(header[:]); err != nil {
			sent <- fmt.Errorf("writing the request: %w", err)
			return
		}
		if err := sendZeros(stream, upload, uploaded); err != nil {
			sent <- err
			return
		}
		sent <- stream.Close()
	}()
	received, err := drain(stream, downloaded)
	if sendErr := <-sent; sendErr != nil {
		return sendErr
	}
	if err != nil {
		return err
	}
	if received != download {
		return fmt.Errorf("%d bytes came back, %d asked for", received, download)
	}
	return nil
}

// handshakes runs count full handshakes, concurrency at a time, closing each
// connection once its handshake is complete; prints the result line.
func handshakes(t *target, count, concurrency uint64) error {
	if concurrency > count {
		concurrency = count
	}
	var next atomic.Uint64
	start := time.Now()
	errs := make(chan error, concurrency)
	for i := uint64(0); i < concurrency; i++ {
		go func() {
			for next.Add(1) <= count {
				conn, err := t.dial()
				if err != nil {
					errs <- err
					return
				}
				_ = conn.CloseWithError(doneCode, "done")
			}
			errs <- nil
		}()
	}
	for i := uint64(0); i < concurrency; i++ {
		if err := <-errs; err != nil {
			return err
		}
	}
	secs := time.Since(start).Seconds()
	perS := 0.0
	if secs > 0 {
		perS = float64(count) / secs
	}
	fmt.Printf("handshakes count=%d secs=%.3f per_s=%.1f\n", count, secs, perS)
	return nil
}

// mbitPerS is megabits per second of bytes in secs (0 for no time at all).
func mbitPerS(bytes uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(bytes) * 8 / secs / 1e6
}
