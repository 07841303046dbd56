package wsproto_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
)

// TestAutobahnEcho plays the Autobahn table (autobahn_test.go) against the
// engine's echo server, examples/echo, run as a process of its own on the
// product's defaults: what the Reader reports, the server must answer.
// Each case is one connection; the client writes the case's whole wire
// while it reads what comes back, until the server closes.
func TestAutobahnEcho(t *testing.T) {
	addr := startEcho(t)
	for _, c := range wsproto.AutobahnEchoCases() {
		t.Run(c.ID, func(t *testing.T) { playEcho(t, addr, c) })
	}
}

// startEcho builds and starts examples/echo on a free loopback port and
// returns its address; the process is stopped with SIGTERM at cleanup.
func startEcho(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build examples/echo")
	}
	bin := filepath.Join(t.TempDir(), "echo")
	if out, err := exec.Command(goTool, "build", "-o", bin, "../examples/echo").CombinedOutput(); err != nil {
		t.Fatalf("build examples/echo: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("echo server: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		t.Fatalf("echo server said %q, %v", line, err)
	}
	return addr
}

// playEcho runs one case on a connection of its own.
func playEcho(t *testing.T, addr string, c wsproto.EchoCase) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a bound on failure, not a wait
	r := bufio.NewReaderSize(conn, 64<<10)
	upgrade(t, conn, r, addr)
	go conn.Write(c.Wire) // may fail once the server closed a failed connection: the frames say why
	for i, want := range c.Want {
		got, err := readFrame(r)
		if err != nil {
			t.Fatalf("frame %d of %d: %v, want %s", i, len(c.Want), err, show(want))
		}
		if got != want {
			t.Fatalf("frame %d: %s, want %s", i, show(got), show(want))
		}
	}
	if got, err := readFrame(r); !errors.Is(err, io.EOF) {
		t.Fatalf("after the close: %s, %v; want the end of the stream", show(got), err)
	}
}

// upgrade performs the client handshake, without offering compression.
func upgrade(t *testing.T, conn net.Conn, r *bufio.Reader, host string) {
	t.Helper()
	key := wsproto.NewKey()
	if _, err := conn.Write(wsproto.AppendClientRequest(nil, host, "/autobahn", key, false)); err != nil {
		t.Fatal(err)
	}
	var head []byte
	for wsproto.HeaderEnd(head) == 0 {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		head = append(head, b)
	}
	if _, _, err := wsproto.ParseResponse(head, key, false); err != nil {
		t.Fatalf("handshake: %v", err)
	}
}

// readFrame reads one frame of the server, which must be final, unmasked
// and without RSV bits (no extension was negotiated).
func readFrame(r *bufio.Reader) (wsproto.EchoFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return wsproto.EchoFrame{}, err
	}
	if h[0]&0xf0 != 0x80 || h[1]&0x80 != 0 {
		return wsproto.EchoFrame{}, errors.New("not a final, unmasked frame without RSV bits")
	}
	n := uint64(h[1] & 0x7f)
	if n >= 126 {
		ext := make([]byte, 2+6*(n-126))
		if _, err := io.ReadFull(r, ext); err != nil {
			return wsproto.EchoFrame{}, err
		}
		n = 0
		for _, b := range ext {
			n = n<<8 | uint64(b)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return wsproto.EchoFrame{}, err
	}
	f := wsproto.EchoFrame{Op: wsproto.OpCode(h[0] & 0x0f)}
	if f.Op != wsproto.OpClose {
		f.Payload = string(p)
		return f, nil
	}
	f.Code = wsproto.CloseNoStatus
	if len(p) >= 2 {
		f.Code = uint16(p[0])<<8 | uint16(p[1])
	}
	return f, nil
}

func show(f wsproto.EchoFrame) string {
	if f.Op == wsproto.OpClose {
		return "close " + itoa(int(f.Code))
	}
	p := f.Payload
	if len(p) > 40 {
		p = p[:40] + "...(" + itoa(len(f.Payload)) + " bytes)"
	}
	return f.Op.String() + " " + p
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
