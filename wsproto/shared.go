package wsproto

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/valyala/bytebufferpool"
)

// SharedFrame is a text or binary server message encoded once as an
// unmasked frame and shared by many receivers. It is reference counted:
// every holder calls Release once, and at zero its buffers return to the
// pool. The compressed form is computed on first use and shared as well.
type SharedFrame struct {
	refs atomic.Int32
	op   OpCode
	off  int // where the frame starts in buf.B
	hlen int
	buf  *bytebufferpool.ByteBuffer

	once sync.Once
	comp *bytebufferpool.ByteBuffer // nil: not computed, or did not shrink
}

var sharedFramePool = sync.Pool{New: func() any { return new(SharedFrame) }}

// The buffers of shared frames, by role: encoded messages and compressed
// ones (bufpool.go).
var frameBufs, compressedBufs bufPool

// maxServerHeader is the longest unmasked frame header: 2 + 8 bytes.
const maxServerHeader = 10

// NewSharedFrame encodes payload as one unmasked final frame of opcode op
// into a pooled buffer (payload is copied) and returns it with one
// reference.
func NewSharedFrame(op OpCode, payload []byte) *SharedFrame {
	f := sharedFramePool.Get().(*SharedFrame)
	f.op, f.off = op, 0
	f.buf = frameBufs.Get()
	f.buf.B = slices.Grow(f.buf.B[:0], headerLen(len(payload), false)+len(payload))
	f.buf.B = appendHeader(f.buf.B, op, true, 0, len(payload), false, [4]byte{})
	f.hlen = len(f.buf.B)
	f.buf.B = append(f.buf.B, payload...)
	f.refs.Store(1)
	return f
}

// NewSharedFrameFunc is NewSharedFrame for a payload that build appends to
// the slice it is given (build must only append, and must not keep the
// slice): the payload is written into the frame's buffer once, and the
// header goes in front of it, so nothing is copied afterwards. size is the
// payload's expected length, so that the buffer is grown once.
func NewSharedFrameFunc(op OpCode, size int, build func(dst []byte) []byte) *SharedFrame {
	f := sharedFramePool.Get().(*SharedFrame)
	f.op = op
	f.buf = frameBufs.Get()
	b := slices.Grow(f.buf.B[:0], maxServerHeader+size)[:maxServerHeader]
	b = build(b)
	n := len(b) - maxServerHeader
	f.hlen = headerLen(n, false)
	f.off = maxServerHeader - f.hlen
	appendHeader(b[f.off:f.off], op, true, 0, n, false, [4]byte{}) // in place, before the payload
	f.buf.B = b
	f.refs.Store(1)
	return f
}

// Bytes returns the encoded frame. It must not be modified.
func (f *SharedFrame) Bytes() []byte { return f.buf.B[f.off:] }

// Payload returns the message inside the frame. It must not be modified.
func (f *SharedFrame) Payload() []byte { return f.buf.B[f.off+f.hlen:] }

// Op returns the frame's opcode.
func (f *SharedFrame) Op() OpCode { return f.op }

// CompressMinSize is the smallest payload SharedFrame.Compressed
// compresses. Below it the message goes uncompressed to every receiver,
// deflate or not (RFC 7692 leaves the choice per message to the sender).
//
// Compressing a small message costs a flate writer a few microseconds
// (building Huffman tables) whatever its size: BenchmarkDeflate200 measures
// ~30x the cost of encoding the 200-byte broadcast once, more than routing
// it uncompressed to its 19 receivers, to save ~120 bytes per receiver on
// repetitive JSON and nothing on varied JSON (the writer ends up storing
// it). From about 512 bytes JSON shrinks by more than half, and the bytes
// saved for every receiver are worth the once-per-message cost. See
// docs/bench/wsproto.md.
const CompressMinSize = 512

// Compressed returns the same message as one compressed frame (RSV1 set,
// no context takeover), for receivers that negotiated permessage-deflate.
// It is computed once, by the first caller; later and concurrent callers
// get the same bytes. It returns nil when the payload is shorter than
// CompressMinSize or compression does not make the frame smaller; send
// Bytes then.
func (f *SharedFrame) Compressed() []byte {
	if len(f.Payload()) < CompressMinSize {
		return nil
	}
	f.once.Do(f.compress)
	if f.comp == nil {
		return nil
	}
	return f.comp.B
}

func (f *SharedFrame) compress() {
	b := compressedBufs.Get()
	var err error
	b.B, err = AppendCompressedFrame(b.B[:0], f.op, f.Payload())
	if err != nil || len(b.B) >= len(f.Bytes()) {
		compressedBufs.Put(b)
		return
	}
	f.comp = b
}

// Retain adds a reference. Safe from any goroutine, on a frame that still
// holds one.
func (f *SharedFrame) Retain() { f.refs.Add(1) }

// Release drops a reference; the last one returns the buffers to the pool.
// Bytes, Payload and Compressed are invalid for this holder afterwards.
// Releasing more often than retained panics.
func (f *SharedFrame) Release() {
	switch n := f.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("wsproto: SharedFrame released more often than retained")
	}
	frameBufs.Put(f.buf)
	if f.comp != nil {
		compressedBufs.Put(f.comp)
	}
	f.buf, f.comp, f.once = nil, nil, sync.Once{}
	sharedFramePool.Put(f)
}
