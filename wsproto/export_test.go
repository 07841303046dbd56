package wsproto

// What the external tests of this package (package wsproto_test) reach of
// its internal ones. Compiled only into the test binary.

// EchoCase is a case of the Autobahn table as the client of an echo server
// plays it: the bytes it sends, and the frames the server must answer with.
type EchoCase struct {
	ID   string
	Wire []byte      // the case's frames, masked; then a close 1000, unless the case closes or fails
	Want []EchoFrame // the server's frames, in order; the last one is its close
}

// EchoFrame is one frame of the server: a message echoed, a pong, or a
// close with Code (CloseNoStatus: a close frame without a body).
type EchoFrame struct {
	Op      OpCode
	Payload string // "" for a close: the code is what is checked
	Code    uint16
}

// AutobahnEchoCases returns the Autobahn table (autobahnCases) as an echo
// server must answer it: each message the Reader reports comes back with
// its opcode, each ping as a pong, a pong not at all; the server's close
// echoes the code of the client's close frame, or carries the code the
// Reader fails with, and nothing comes after it.
func AutobahnEchoCases() []EchoCase {
	var out []EchoCase
	for _, c := range autobahnCases() {
		e := EchoCase{ID: c.id}
		closed := false
		for _, ev := range c.want {
			switch ev.op {
			case OpText, OpBinary:
				e.Want = append(e.Want, EchoFrame{Op: ev.op, Payload: ev.payload})
			case OpPing:
				e.Want = append(e.Want, EchoFrame{Op: OpPong, Payload: ev.payload})
			case OpClose:
				e.Want = append(e.Want, EchoFrame{Op: OpClose, Code: ev.code})
				closed = true
			}
			if closed {
				break
			}
		}
		for _, f := range c.frames {
			e.Wire = f.encode(e.Wire, true)
		}
		switch {
		case closed:
		case c.code != 0:
			e.Want = append(e.Want, EchoFrame{Op: OpClose, Code: c.code})
		default:
			e.Wire = closeFrame(CloseNormal, "").encode(e.Wire, true)
			e.Want = append(e.Want, EchoFrame{Op: OpClose, Code: CloseNormal})
		}
		out = append(out, e)
	}
	return out
}
