package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnet has no TLS. TLS connections are accepted and terminated with
// crypto/tls; the plaintext is carried over a Unix socket pair whose one end
// is enrolled into a gnet loop. The connection then runs the same state
// machine and the same routing as a plain one. The cost is two goroutines,
// two descriptors and one copy per direction for each TLS connection
// (measured in BENCHMARKS.md).

// tlsPeer is the context of an enrolled TLS connection: its real address.
type tlsPeer struct{ remote string }

// tlsListener accepts TLS connections for the engine.
type tlsListener struct {
	ln     net.Listener
	certs  *config.CertReloader
	wg     sync.WaitGroup
	closed chan struct{}
}

// pumpBuf is the copy buffer of one direction: the largest TLS record.
const pumpBuf = 16 << 10

func (e *Engine) startTLS() error {
	certs, err := config.NewCertReloader(e.cfg.Public)
	if err != nil {
		return err
	}
	host := e.cfg.Public.Host
	if host == "" {
		host = "0.0.0.0"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(e.cfg.Public.TLSPort))
	ln, err := tls.Listen("tcp", addr, e.cfg.ServerTLSConfig(certs))
	if err != nil {
		return fmt.Errorf("engine: TLS listen on %s: %w", addr, err)
	}
	e.tls = &tlsListener{ln: ln, certs: certs, closed: make(chan struct{})}
	e.tls.wg.Add(1)
	go e.acceptTLS()
	return nil
}

// ReloadCertificate re-reads the key store (SIGHUP). New handshakes use the
// new certificate; open connections are untouched. On failure the old
// certificate stays.
func (e *Engine) ReloadCertificate() error {
	if e.tls == nil {
		return nil
	}
	return e.tls.certs.Reload()
}

// acceptTLS accepts until the listener closes. The TLS handshake runs in
// the connection's own goroutine, bounded by the handshake timeout.
func (e *Engine) acceptTLS() {
	t := e.tls
	defer t.wg.Done()
	delay := time.Duration(0)
	for {
		// At the cap, accept nothing: a TLS handshake holds a descriptor
		// before it can be refused, and a flood of them would take the
		// reserve that keeps gnet's own accept from failing.
		for limit := e.fdCap.Load(); limit > 0 && e.descriptors() >= limit; {
			select {
			case <-t.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		nc, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.closed:
				return
			default:
			}
			// EMFILE and friends: back off instead of spinning and logging.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			e.log.Warn("TLS accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			e.serveTLS(nc.(*tls.Conn))
		}()
	}
}

func (e *Engine) serveTLS(tc *tls.Conn) {
	remote := tc.RemoteAddr().String()
	e.tlsShake.Add(1) // its descriptor counts from the accept on
	defer e.tlsShake.Add(-1)
	if limit := e.fdCap.Load(); limit > 0 && e.descriptors() > limit {
		e.stats.countReject(503) // no room for three more descriptors
		tc.Close()
		return
	}
	if d := e.cfg.Limits.HandshakeTimeout; d > 0 {
		tc.SetDeadline(time.Now().Add(d))
	}
	if err := tc.Handshake(); err != nil {
		e.stats.TLSHandshakeFailures.Add(1)
		e.log.Debug("TLS handshake failed", "remote", remote, "err", err)
		tc.Close()
		return
	}
	tc.SetDeadline(time.Time{})
	inner, err := e.pipeTLS(tc)
	if err != nil {
		e.log.Error("TLS pipe", "err", err)
		tc.Close()
		return
	}
	if err := e.enroll(inner, &tlsPeer{remote: remote}); err != nil {
		e.log.Warn("TLS enroll", "remote", remote, "err", err)
	}
}

func (t *tlsListener) close() {
	close(t.closed)
	t.ln.Close()
}

func (t *tlsListener) wait() { t.wg.Wait() }

// pipeTLS connects tc to a new Unix socket pair and returns the other end,
// for enrolling into gnet. Two goroutines copy between tc and the pair
// until either side closes; e.tlsPumps counts them. While they run the
// connection holds three descriptors, which e.tlsOpen accounts for.
func (e *Engine) pipeTLS(tc *tls.Conn) (net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	inner, err := fdConn(fds[0], "tls-inner")
	if err != nil {
		unix.Close(fds[1])
		return nil, err
	}
	outer, err := fdConn(fds[1], "tls-outer")
	if err != nil {
		inner.Close()
		return nil, err
	}
	e.tlsOpen.Add(1)
	var left atomic.Int32
	left.Store(2)
	done := func() {
		if left.Add(-1) == 0 {
			e.tlsOpen.Add(-1)
		}
		e.tlsPumps.Done()
	}
	e.tlsPumps.Add(2)
	go pump(outer, tc, done) // network -> gnet
	go pump(tc, outer, done) // gnet -> network
	return inner, nil
}

func fdConn(fd int, name string) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// pump copies src to dst until either fails, then closes both. It does not
// use io.Copy, which would splice through a pipe pair (3 descriptors).
func pump(dst, src net.Conn, done func()) {
	defer done()
	buf := make([]byte, pumpBuf)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

// enroll hands an established connection to a gnet loop; v becomes the
// context OnOpen sees.
func (e *Engine) enroll(c net.Conn, v any) error {
	if e.eng == (gnet.Engine{}) || e.stopping.Load() {
		c.Close()
		return errors.New("engine not running")
	}
	ctx := gnet.NewNetConnContext(gnet.NewContext(context.Background(), v), c)
	ch, err := e.eng.Register(ctx)
	if err != nil {
		c.Close()
		return err
	}
	res := <-ch
	return res.Err
}

// TLSConnections returns the TLS connections whose socket pairs are open.
func (e *Engine) TLSConnections() int64 { return e.tlsOpen.Load() }
