package wsproto

import (
	"testing"
)

// Costs per message of permessage-deflate beside the same message
// uncompressed, for the bridge's typical message: a 200-byte EndpointMessage
// broadcast by a browser to a conference of 20.
//
//	go test ./wsproto -run '^$' -bench 'Deflate200' -benchmem
//
//	Read:     a client's 200-byte message (masked; compressed by the
//	          standard library at its default level, as zlib in a browser
//	          does) parsed, unmasked and, for deflate, inflated.
//	Share:    the outgoing broadcast encoded once (NewSharedFrame), and for
//	          deflate Compressed, then released. Compressed leaves a
//	          message below CompressMinSize uncompressed.
//	Compress: what compressing the 200-byte broadcast once would cost
//	          (AppendCompressedFrame), the cost CompressMinSize avoids:
//	          "varied" is the message above, which the flate writer ends
//	          up storing (wire-B above the plain frame's), "repetitive"
//	          JSON it does compress.
//	Receiver: what each of the 19 receivers adds: picking the frame
//	          (Compressed on an already compressed frame) and copying it
//	          into its outbound buffer.
//
// Share and Receiver report wire-B, the bytes a receiver is sent: the
// compressed frame, or the plain one when compression did not shrink it.

// message200 is a 200-byte EndpointMessage as lib-jitsi-meet sends it: JSON
// with little repetition inside one message.
var message200 = []byte(`{"colibriClass":"EndpointMessage","to":"","msgPayload":` +
	`{"type":"stats","id":"b7e2c4f1","rtt":8,"jit":4,"audio":{"level":0.42,"muted":false},` +
	`"video":{"height":720,"fps":29},"seq":5183,"ts":1764575123}}`)

func init() {
	if len(message200) != 200 {
		panic("message200 is not 200 bytes")
	}
}

// fromSender is message200 as the bridge forwards it, with "from" added.
var fromSender = append([]byte(`{"colibriClass":"EndpointMessage","from":"a1b2c3d4",`), message200[len(`{"colibriClass":"EndpointMessage",`):]...)

func BenchmarkDeflate200(b *testing.B) {
	plainFrame := benchFrame(OpText, message200)
	deflateFrame := AppendMaskedFrame(nil, OpText, true, peerCompress(b, message200), [4]byte{0x12, 0x34, 0x56, 0x78})
	deflateFrame[0] |= bitRsv1
	for _, c := range []struct {
		name  string
		frame []byte
		d     *Deflate
	}{{"plain", plainFrame, nil}, {"deflate", deflateFrame, &Deflate{}}} {
		b.Run("Read/"+c.name, func(b *testing.B) {
			l := newReadLoop(&loopReader{data: c.frame})
			l.r.Init(Server, DefaultMaxMessageSize, c.d)
			b.SetBytes(int64(len(message200)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if m := l.next(b); len(m.Payload) != len(message200) {
					b.Fatal("short message")
				}
			}
		})
	}
	for _, compressed := range []bool{false, true} {
		name := "plain"
		if compressed {
			name = "deflate"
		}
		b.Run("Share/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(fromSender)))
			b.ReportAllocs()
			b.ReportMetric(float64(wireBytes(fromSender, compressed)), "wire-B")
			for range b.N {
				f := NewSharedFrame(OpText, fromSender)
				if compressed {
					f.Compressed()
				}
				f.Release()
			}
		})
		if compressed {
			for _, c := range []struct {
				name string
				p    []byte
			}{{"varied", fromSender}, {"repetitive", benchPayload(len(fromSender))}} {
				b.Run("Compress/"+c.name, func(b *testing.B) {
					dst := make([]byte, 0, 1024)
					b.SetBytes(int64(len(c.p)))
					b.ReportAllocs()
					for range b.N {
						dst, _ = AppendCompressedFrame(dst[:0], OpText, c.p)
					}
					b.ReportMetric(float64(len(dst)), "wire-B")
				})
			}
		}
		b.Run("Receiver/"+name, func(b *testing.B) {
			f := NewSharedFrame(OpText, fromSender)
			defer f.Release()
			pend := make([]byte, 0, 64<<10)
			b.SetBytes(int64(len(fromSender)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				f.Retain()
				fb := f.Bytes()
				if compressed {
					if cb := f.Compressed(); cb != nil {
						fb = cb
					}
				}
				if len(pend)+len(fb) > cap(pend) {
					pend = pend[:0]
				}
				pend = append(pend, fb...)
				f.Release()
			}
			b.ReportMetric(float64(wireBytes(fromSender, compressed)), "wire-B")
		})
	}
}

// wireBytes is the size of the frame a receiver of p is sent.
func wireBytes(p []byte, compressed bool) int {
	f := NewSharedFrame(OpText, p)
	defer f.Release()
	if compressed {
		if c := f.Compressed(); c != nil {
			return len(c)
		}
	}
	return len(f.Bytes())
}
