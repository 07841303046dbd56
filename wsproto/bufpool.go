package wsproto

import (
	"sync"

	"github.com/valyala/bytebufferpool"
)

// bufPool holds the byte buffers of one role (issue 14: pools by role) in
// a sync.Pool, which keeps them per P. bytebufferpool.Pool counts every Put
// in counters that all its users write: a cache line that every event loop
// wrote for every message it read or sent. A sync.Pool shares nothing on
// Get and Put. A buffer grown past maxPooled is left to the collector, as
// bytebufferpool leaves the sizes it rarely serves.
type bufPool struct{ pool sync.Pool }

// maxPooled is the largest capacity a pool keeps.
const maxPooled = 1 << 20

// Get returns an empty buffer.
func (p *bufPool) Get() *bytebufferpool.ByteBuffer {
	if b, ok := p.pool.Get().(*bytebufferpool.ByteBuffer); ok {
		return b
	}
	return new(bytebufferpool.ByteBuffer)
}

// Put takes b back; the caller no longer owns it.
func (p *bufPool) Put(b *bytebufferpool.ByteBuffer) {
	if cap(b.B) <= maxPooled {
		b.B = b.B[:0]
		p.pool.Put(b)
	}
}
