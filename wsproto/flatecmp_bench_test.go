package wsproto

import (
	"bytes"
	stdflate "compress/flate"
	"io"
	"testing"

	kflate "github.com/klauspost/compress/flate"
	"github.com/valyala/bytebufferpool"
)

// The package's inflater and compressor beside klauspost/compress/flate
// and the standard library's compress/flate, per message, as the bridge
// negotiates permessage-deflate: no context takeover either way
// (NegotiateDeflate always answers server_no_context_takeover and
// client_no_context_takeover), so every message is a fresh stream: the
// readers and writers are reused through Reset, without a dictionary.
//
//	go test ./wsproto -run '^$' -bench 'FlateCmp' -benchmem
//
// Messages: Colibri JSON, the 200-byte EndpointMessage of
// BenchmarkDeflate200 (message200) and 2 KiB and 32 KiB of the json
// corpus of the Autobahn tests (EndpointStats), as binary messages.
//
// Inflate: one message compressed as a browser does (the standard
// library's writer at its default level, the level of zlib in Chromium),
// inflated into a reused output buffer. impl=own is inflate(), what
// Reader.Next runs (frame bytes in, pooled buffer out). The libraries read
// an io.Reader: the body is copied after the stripped 00 00 ff ff into a
// reused buffer with the final empty block of inflateTail (what the Reader
// would do to use them; the copy is counted) and read through a
// *bytes.Reader, the fastest source of both (klauspost has a decoding loop
// specialised for it), until EOF.
//
// Compress: what SharedFrame.Compressed runs for a broadcast, per message:
// impl=klauspost is compress() (today's compressor, a pooled
// klauspost/compress writer at level 1, BestSpeed), impl=stdlib the
// standard library's writer at the same level, reset per message, sync
// flush, the 00 00 ff ff stripped. wire-B is the compressed size.

// flateCmpSizes are the message sizes compared.
var flateCmpSizes = []struct {
	name string
	msg  func() []byte
}{
	{"200B", func() []byte { return message200 }},
	{"2KiB", func() []byte { return jsonCorpusBytes(2 << 10) }},
	{"32KiB", func() []byte { return jsonCorpusBytes(32 << 10) }},
}

// jsonCorpusBytes is the first n bytes of the json corpus (EndpointStats
// objects).
func jsonCorpusBytes(n int) []byte {
	return []byte(string(testCorpora()[0].data))[:n]
}

func BenchmarkFlateCmp(b *testing.B) {
	for _, s := range flateCmpSizes {
		msg := s.msg()
		body := peerCompress(b, msg)
		b.Run("Inflate/size="+s.name+"/impl=own", func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			out := inflatePool.Get()
			defer inflatePool.Put(out)
			for range b.N {
				out.B = out.B[:0]
				if err := inflate(out, body, DefaultMaxMessageSize); err != nil || len(out.B) != len(msg) {
					b.Fatalf("inflate: %v", err)
				}
			}
		})
		for _, lib := range []struct {
			name string
			r    io.ReadCloser
		}{
			{"klauspost", kflate.NewReader(bytes.NewReader(nil))},
			{"stdlib", stdflate.NewReader(bytes.NewReader(nil))},
		} {
			b.Run("Inflate/size="+s.name+"/impl="+lib.name, func(b *testing.B) {
				src := make([]byte, 0, len(body)+len(inflateTail))
				out := make([]byte, len(msg)+1)
				var br bytes.Reader
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for range b.N {
					src = append(append(src[:0], body...), inflateTail[:]...)
					br.Reset(src)
					if err := lib.r.(kflate.Resetter).Reset(&br, nil); err != nil {
						b.Fatal(err)
					}
					n := 0
					for {
						k, err := lib.r.Read(out[n:])
						n += k
						if err == io.EOF {
							break
						}
						if err != nil || n == len(out) {
							b.Fatalf("%s: %d bytes, %v", lib.name, n, err)
						}
					}
					if n != len(msg) {
						b.Fatalf("%s: %d bytes, want %d", lib.name, n, len(msg))
					}
				}
			})
		}
	}
	for _, s := range flateCmpSizes {
		msg := s.msg()
		b.Run("Compress/size="+s.name+"/impl=klauspost", func(b *testing.B) {
			dst := bytebufferpool.Get()
			defer bytebufferpool.Put(dst)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for range b.N {
				dst.B = dst.B[:0]
				if err := compress(dst, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(dst.B)), "wire-B")
		})
		b.Run("Compress/size="+s.name+"/impl=klauspost-stateless", func(b *testing.B) {
			dst := bytebufferpool.Get()
			defer bytebufferpool.Put(dst)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for range b.N {
				dst.B = dst.B[:0]
				if err := kflate.StatelessDeflate(dst, msg, false, nil); err != nil {
					b.Fatal(err)
				}
				if !bytes.HasSuffix(dst.B, deflateTail[:]) {
					b.Fatal("no sync flush marker")
				}
				dst.B = dst.B[:len(dst.B)-4]
			}
			b.ReportMetric(float64(len(dst.B)), "wire-B")
		})
		b.Run("Compress/size="+s.name+"/impl=stdlib", func(b *testing.B) {
			var dst bytes.Buffer
			w, _ := stdflate.NewWriter(&dst, stdflate.BestSpeed)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for range b.N {
				dst.Reset()
				w.Reset(&dst)
				w.Write(msg)
				w.Flush()
				if !bytes.HasSuffix(dst.Bytes(), deflateTail[:]) {
					b.Fatal("no sync flush marker")
				}
				dst.Truncate(dst.Len() - 4)
			}
			b.ReportMetric(float64(dst.Len()), "wire-B")
		})
	}
}
