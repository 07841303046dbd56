package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/engine"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/gorilla/websocket"
)

// The engine as a WebSocket server of its own: an Application on real
// sockets over loopback, on the default config (ports changed only).

// waitLimit bounds every wait for the engine; it is never how a test
// synchronises.
const waitLimit = 20 * time.Second

// closed is what a handler's OnClose was told.
type closed struct {
	code   uint16
	reason string
}

// echoApp echoes every message. Sockets it opens and closes are reported
// on its channels, when they are not nil. Paths under /refuse/NNN are
// refused with status NNN.
type echoApp struct {
	opened chan *engine.Socket
	closed chan closed
}

func (a *echoApp) Accept(r *engine.Request) (engine.Handler, int) {
	if s, ok := strings.CutPrefix(r.Path(), "/refuse/"); ok {
		status := 0
		for _, d := range s {
			status = status*10 + int(d-'0')
		}
		return nil, status
	}
	return a, 0
}

func (a *echoApp) OnOpen(s *engine.Socket) {
	if a.opened != nil {
		a.opened <- s
	}
}

func (a *echoApp) OnMessage(s *engine.Socket, op wsproto.OpCode, p []byte) {
	if err := s.Send(op, p); err != nil {
		panic(err) // OnClose has not run: Send cannot fail
	}
}

func (a *echoApp) OnClose(s *engine.Socket, code uint16, reason string) {
	if a.closed != nil {
		a.closed <- closed{code, reason}
	}
	if err := s.Send(wsproto.OpText, []byte("late")); !errors.Is(err, engine.ErrClosed) {
		panic("Send after OnClose: " + errString(err))
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// startApp runs an engine serving app only, on a free loopback port.
func startApp(t *testing.T, app engine.Application) *engine.Engine {
	t.Helper()
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port = "127.0.0.1", 0
	e := engine.New(cfg, engine.Options{App: app})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		e.Stop(ctx)
	})
	return e
}

func dial(t *testing.T, e *engine.Engine, path string, compress bool) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{EnableCompression: compress, HandshakeTimeout: waitLimit}
	ws, _, err := d.Dial("ws://"+e.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(waitLimit))
	t.Cleanup(func() { ws.Close() })
	return ws
}

func expectEcho(t *testing.T, ws *websocket.Conn, typ int, p []byte) {
	t.Helper()
	if err := ws.WriteMessage(typ, p); err != nil {
		t.Fatal(err)
	}
	gotType, got, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("echo of %d bytes: %v", len(p), err)
	}
	if gotType != typ || !bytes.Equal(got, p) {
		t.Fatalf("echo: type %d, %d bytes; sent type %d, %d bytes", gotType, len(got), typ, len(p))
	}
}

func TestAppEcho(t *testing.T) {
	e := startApp(t, &echoApp{})
	for _, compress := range []bool{false, true} {
		ws := dial(t, e, "/any/path?x=1", compress)
		expectEcho(t, ws, websocket.TextMessage, []byte("hello"))
		expectEcho(t, ws, websocket.BinaryMessage, []byte{0, 0xff, 0xfe})
		expectEcho(t, ws, websocket.TextMessage, nil)
		expectEcho(t, ws, websocket.TextMessage, bytes.Repeat([]byte("json "), 2000))
		if err := ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(waitLimit)); err != nil {
			t.Fatal(err)
		}
		pong := make(chan string, 1)
		ws.SetPongHandler(func(s string) error { pong <- s; return nil })
		expectEcho(t, ws, websocket.TextMessage, []byte("after ping")) // the pong came before it
		if got := <-pong; got != "p" {
			t.Fatalf("pong %q, want %q", got, "p")
		}
	}
}

// TestAppEchoLarge echoes a message just under the application limit (16
// MiB by default), and closes with 1009 a sender past it.
func TestAppEchoLarge(t *testing.T) {
	e := startApp(t, &echoApp{})
	ws := dial(t, e, "/", true)
	big := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 0xff}, engine.DefaultMaxMessageSize/8)
	expectEcho(t, ws, websocket.BinaryMessage, big)
	if err := ws.WriteMessage(websocket.BinaryMessage, append(big, 0)); err != nil {
		t.Fatal(err)
	}
	_, _, err := ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after a message past the limit: %v, want close 1009", err)
	}
}

// rawConn is a client on a plain socket, to send what gorilla will not
// (fragments of our choosing) and see what it hides (the RSV1 bit).
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func rawDial(t *testing.T, e *engine.Engine, offerDeflate bool) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.Addr(), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitLimit))
	key := wsproto.NewKey()
	if _, err := c.Write(wsproto.AppendClientRequest(nil, e.Addr(), "/raw", key, offerDeflate)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var head []byte
	for wsproto.HeaderEnd(head) == 0 {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		head = append(head, b)
	}
	if _, deflate, err := wsproto.ParseResponse(head, key, offerDeflate); err != nil || (deflate != nil) != offerDeflate {
		t.Fatalf("handshake: deflate %v, err %v", deflate, err)
	}
	return &rawConn{Conn: c, r: r}
}

// frame reads one server frame: its first byte (FIN, RSV1, opcode) and
// its payload as sent.
func (c *rawConn) frame(t *testing.T) (b0 byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		t.Fatal(err)
	}
	if h[1]&0x80 != 0 {
		t.Fatal("server frame masked")
	}
	n := uint64(h[1] & 0x7f)
	var ext []byte
	switch n {
	case 126:
		ext = make([]byte, 2)
	case 127:
		ext = make([]byte, 8)
	}
	if _, err := io.ReadFull(c.r, ext); err != nil {
		t.Fatal(err)
	}
	if ext != nil {
		n = 0
		for _, b := range ext {
			n = n<<8 | uint64(b)
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		t.Fatal(err)
	}
	return h[0], payload
}

// TestAppFragmentedAndCompressed sends a text message in fragments, and
// checks that a compressible echo leaves compressed (RSV1) on a socket
// that negotiated permessage-deflate.
func TestAppFragmentedAndCompressed(t *testing.T) {
	e := startApp(t, &echoApp{})
	c := rawDial(t, e, true)
	msg := strings.Repeat(`{"colibriClass":"EndpointMessage","to":""} `, 100)
	var wire []byte
	for i, op := 0, wsproto.OpText; i < len(msg); i, op = i+1000, wsproto.OpContinuation {
		end := min(i+1000, len(msg))
		wire = wsproto.AppendMaskedFrame(wire, op, end == len(msg), []byte(msg[i:end]), wsproto.NewMask())
	}
	wire = wsproto.AppendMaskedClose(wire, 1000, "done", wsproto.NewMask())
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	b0, p := c.frame(t)
	if b0 != 0x80|0x40|byte(wsproto.OpText) {
		t.Fatalf("echo's first byte %#x, want FIN+RSV1+text", b0)
	}
	if len(p) >= len(msg) {
		t.Fatalf("compressed echo of %d bytes is %d", len(msg), len(p))
	}
	// The close that followed the message in the same read is answered
	// after the echo.
	if b0, p := c.frame(t); b0 != 0x88 || len(p) < 2 || int(p[0])<<8|int(p[1]) != 1000 {
		t.Fatalf("after the echo: %#x %q, want close 1000", b0, p)
	}
}

// TestAppRefused answers an upgrade the Application refuses with its
// status; a status that is not an HTTP error is answered 404.
func TestAppRefused(t *testing.T) {
	e := startApp(t, &echoApp{})
	for path, want := range map[string]int{"/refuse/403": 403, "/refuse/451": 451, "/refuse/200": 404} {
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+e.Addr()+path, nil)
		if err == nil || resp == nil || resp.StatusCode != want {
			t.Errorf("%s: %v, want status %d", path, err, want)
		}
	}
	e2 := startApp(t, nil)
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+e2.Addr()+"/x", nil)
	if err == nil || resp == nil || resp.StatusCode != 404 {
		t.Errorf("no application: %v, want status 404", err)
	}
}

// TestAppSendFromGoroutine sends from a goroutine that is not the loop's,
// in order, then closes with a code of the application's.
func TestAppSendFromGoroutine(t *testing.T) {
	app := &echoApp{opened: make(chan *engine.Socket, 1), closed: make(chan closed, 1)}
	e := startApp(t, app)
	ws := dial(t, e, "/push", false)
	s := <-app.opened
	const n = 500
	go func() {
		for i := range n {
			if err := s.Send(wsproto.OpText, []byte(itoa(i))); err != nil {
				panic(err)
			}
		}
		s.Close(4000, "bye")
	}()
	for i := range n {
		_, p, err := ws.ReadMessage()
		if err != nil || string(p) != itoa(i) {
			t.Fatalf("message %d: %q, %v", i, p, err)
		}
	}
	_, _, err := ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4000 || ce.Text != "bye" {
		t.Fatalf("after %d messages: %v, want close 4000 bye", n, err)
	}
	// gorilla answers the close; the handler is told.
	if got := <-app.closed; got != (closed{4000, "bye"}) {
		t.Fatalf("OnClose %+v, want 4000 bye", got)
	}
	if err := s.Send(wsproto.OpText, nil); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Send after close: %v, want ErrClosed", err)
	}
	if err := s.Send(wsproto.OpPing, nil); !errors.Is(err, engine.ErrOpCode) {
		t.Fatalf("Send of a ping: %v, want ErrOpCode", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// floodApp answers each message with count messages of size bytes.
type floodApp struct {
	echoApp
	count, size int
}

func (a *floodApp) Accept(*engine.Request) (engine.Handler, int) { return a, 0 }

func (a *floodApp) OnMessage(s *engine.Socket, _ wsproto.OpCode, _ []byte) {
	p := make([]byte, a.size)
	for range a.count {
		s.Send(wsproto.OpBinary, p)
	}
}

// TestAppSlowConsumer: an application socket whose reader does not read
// is closed with 1008 "slow consumer", on the config's outbound budget,
// as a Colibri socket is.
func TestAppSlowConsumer(t *testing.T) {
	budget := config.Default().Limits.OutboundBudget
	// Far more than the budget's 4x and what the kernel buffers of the
	// connection (the client's receive buffer is made small) can hold.
	app := &floodApp{echoApp: echoApp{closed: make(chan closed, 1)}, count: 128, size: budget / 4}
	e := startApp(t, app)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	wd := websocket.Dialer{NetDial: d.Dial, HandshakeTimeout: waitLimit}
	ws, _, err := wd.Dial("ws://"+e.Addr()+"/slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("go")); err != nil {
		t.Fatal(err)
	}
	// The client never reads: the server closes the socket when its close
	// frame is not answered.
	select {
	case got := <-app.closed:
		if got != (closed{1008, "slow consumer"}) {
			t.Fatalf("OnClose %+v, want 1008 slow consumer", got)
		}
	case <-time.After(waitLimit):
		t.Fatalf("not closed; stats %+v", e.Stats())
	}
	if n := e.Stats().SlowClosed; n != 1 {
		t.Fatalf("SlowClosed = %d, want 1", n)
	}
}
