package wsproto

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"
)

// Benchmarks of the frame codec, next to gobwas/ws's wsutil.Reader and
// gorilla/websocket's reader on the same pre-masked frames. Every reader
// pulls its bytes from the same endless in-memory stream (loopReader), so
// each pays one copy from "the socket" like a real server would; the
// Reader here does it the engine's way: a 64 KiB buffer, Next until it
// needs more, leftovers moved to the front.

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}}

// benchPayload is JSON-like ASCII text, valid UTF-8, so the same bytes can
// go out as text or binary.
func benchPayload(n int) []byte {
	s := `{"colibriClass":"EndpointMessage","from":"a1b2c3d4","to":"","msgPayload":{"type":"e2e-ping","id":12345}}`
	return []byte(repeatTo(s, n))
}

// loopReader serves the same bytes over and over.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], l.data[l.off:])
		n += k
		l.off = (l.off + k) % len(l.data)
	}
	return n, nil
}

// benchFrames is the wire form of one message as a browser sends it.
func benchFrame(op OpCode, p []byte) []byte {
	return AppendMaskedFrame(nil, op, true, p, [4]byte{0x12, 0x34, 0x56, 0x78})
}

// readLoop parses messages from src the way the engine does.
type readLoop struct {
	r       Reader
	src     io.Reader
	buf     []byte
	pending []byte
}

func newReadLoop(src io.Reader) *readLoop {
	l := &readLoop{src: src, buf: make([]byte, 64<<10)}
	l.r.Init(Server, 1<<20, nil)
	l.pending = l.buf[:0]
	return l
}

func (l *readLoop) next(b *testing.B) Message {
	for {
		n, m, ok, err := l.r.Next(l.pending)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			k := copy(l.buf, l.pending)
			got, _ := l.src.Read(l.buf[k:])
			l.pending = l.buf[:k+got]
			continue
		}
		l.pending = l.pending[n:]
		if ok {
			return m
		}
	}
}

func BenchmarkRead(b *testing.B) {
	for _, s := range benchSizes {
		p := benchPayload(s.n)
		for _, op := range []OpCode{OpBinary, OpText} {
			b.Run("wsproto/"+op.String()+"/"+s.name, func(b *testing.B) {
				l := newReadLoop(&loopReader{data: benchFrame(op, p)})
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if m := l.next(b); len(m.Payload) != len(p) {
						b.Fatal("short message")
					}
				}
			})
			b.Run("gobwas/"+op.String()+"/"+s.name, func(b *testing.B) {
				src := bufio.NewReaderSize(&loopReader{data: benchFrame(op, p)}, 64<<10)
				rd := &wsutil.Reader{Source: src, State: ws.StateServerSide, CheckUTF8: true}
				dst := make([]byte, len(p))
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					h, err := rd.NextFrame()
					if err != nil || h.Length != int64(len(p)) {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(rd, dst); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("gorilla/"+op.String()+"/"+s.name, func(b *testing.B) {
				c := gorillaServerConn(b, &loopReader{data: benchFrame(op, p)})
				dst := make([]byte, len(p))
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					_, r, err := c.NextReader()
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(r, dst); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, s := range benchSizes {
		p := benchPayload(s.n)
		dst := make([]byte, 0, len(p)+MaxFrameHeaderLen)
		b.Run("AppendFrame/"+s.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for range b.N {
				dst = AppendFrame(dst[:0], OpText, true, p)
			}
		})
		b.Run("AppendMaskedFrame/"+s.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			mask := NewMask()
			for range b.N {
				dst = AppendMaskedFrame(dst[:0], OpText, true, p, mask)
			}
		})
		b.Run("SharedFrame/"+s.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for range b.N {
				f := NewSharedFrame(OpText, p)
				f.Retain()
				f.Release()
				f.Release()
			}
		})
		b.Run("AppendCompressedFrame/"+s.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for range b.N {
				var err error
				dst, err = AppendCompressedFrame(dst[:0], OpText, p)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("gobwas.WriteFrame/"+s.name, func(b *testing.B) {
			w := bufio.NewWriterSize(io.Discard, 64<<10)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for range b.N {
				if err := ws.WriteFrame(w, ws.NewTextFrame(p)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadCompressed reads browser-style compressed text messages.
func BenchmarkReadCompressed(b *testing.B) {
	for _, s := range benchSizes {
		p := benchPayload(s.n)
		frame, err := AppendCompressedMaskedFrame(nil, OpText, p, [4]byte{1, 2, 3, 4})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name, func(b *testing.B) {
			l := newReadLoop(&loopReader{data: frame})
			l.r.Init(Server, 1<<20, &Deflate{})
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if m := l.next(b); len(m.Payload) != len(p) {
					b.Fatal("short message")
				}
			}
		})
	}
}

func BenchmarkHandshake(b *testing.B) {
	req := []byte(chromeRequest)
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for range b.N {
		end := HeaderEnd(req)
		var r Request
		if err := ParseRequest(req[:end], &r); err != nil {
			b.Fatal(err)
		}
		if err := r.Validate(); err != nil {
			b.Fatal(err)
		}
		d, ok := NegotiateDeflate(r.Extensions)
		if !ok {
			b.Fatal("no deflate")
		}
		dst = AppendUpgradeResponse(dst[:0], r.Key, &d)
	}
}

// gorillaServerConn upgrades a fake connection whose reads come from src,
// giving a server-side *websocket.Conn that reads masked frames.
func gorillaServerConn(b *testing.B, src io.Reader) *websocket.Conn {
	conn := &fakeConn{r: src}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(chromeRequest)))
	if err != nil {
		b.Fatal(err)
	}
	up := websocket.Upgrader{
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	c, err := up.Upgrade(&hijackWriter{conn: conn}, req, nil)
	if err != nil {
		b.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	return c
}

type fakeConn struct{ r io.Reader }

func (c *fakeConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

type hijackWriter struct {
	conn   *fakeConn
	header http.Header
}

func (w *hijackWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}
func (w *hijackWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *hijackWriter) WriteHeader(int)             {}
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, bufio.NewReadWriter(bufio.NewReader(w.conn), bufio.NewWriter(w.conn)), nil
}
