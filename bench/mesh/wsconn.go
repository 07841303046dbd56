package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
)

// wsConn is the generator's side of one endpoint's WebSocket: a blocking
// reader of the bridge's (unmasked) frames and a locked writer of masked
// client frames. Text and pong frames only; the bridge never fragments.
type wsConn struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	wb  []byte
}

// dialWS opens rawURL (ws://host:port/path?query) from local address
// laddr (nil: any) and completes the upgrade.
func dialWS(rawURL string, laddr net.Addr, timeout time.Duration) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: timeout, LocalAddr: laddr}
	nc, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	key := wsproto.NewKey()
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write(wsproto.AppendClientRequest(nil, u.Host, u.RequestURI(), key, false)); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("reading the handshake answer: %w", err)
		}
		head = append(head, line...)
		if len(line) <= 2 { // the empty line that ends the header
			break
		}
	}
	if _, _, err := wsproto.ParseResponse(head, key, false); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return &wsConn{nc: nc, br: br}, nil
}

var errFragmented = errors.New("fragmented frame from the bridge")

// next returns the next text message; it answers pings and returns io.EOF
// on a close frame. The slice is valid until the next call.
func (c *wsConn) next(buf []byte) ([]byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return nil, err
		}
		op, n := h[0]&0x0f, int(h[1]&0x7f)
		switch n {
		case 126:
			var x [2]byte
			if _, err := io.ReadFull(c.br, x[:]); err != nil {
				return nil, err
			}
			n = int(binary.BigEndian.Uint16(x[:]))
		case 127:
			var x [8]byte
			if _, err := io.ReadFull(c.br, x[:]); err != nil {
				return nil, err
			}
			n = int(binary.BigEndian.Uint64(x[:]))
		}
		if h[0]&0x80 == 0 {
			return nil, errFragmented
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(c.br, buf); err != nil {
			return nil, err
		}
		switch op {
		case 1:
			return buf, nil
		case 8:
			return nil, io.EOF
		case 9:
			if err := c.write(0xA, buf); err != nil {
				return nil, err
			}
		}
	}
}

// write sends one masked frame with opcode op.
func (c *wsConn) write(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.wb[:0], 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	for i := range p {
		b[start+i] ^= mask[i&3]
	}
	c.wb = b
	_, err := c.nc.Write(b)
	return err
}

func (c *wsConn) close() { c.nc.Close() }
