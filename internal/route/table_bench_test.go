package route

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"
)

// The conference table is read when a WebSocket connects (conf-id lookup)
// and on every REST call, and written when conferences are created and
// expired. These benchmarks compare the three lock-free-read candidates
// under that mix; the Table uses the winner (xsync). The message hot path
// does not appear here: it reaches the conference through the endpoint.

type confMap interface {
	load(string) (*Conference, bool)
	store(string, *Conference)
	delete(string)
}

// cowMap is a copy-on-write map behind an atomic pointer: the cheapest
// read, a full copy per write.
type cowMap struct {
	mu sync.Mutex
	p  atomic.Pointer[map[string]*Conference]
}

func newCOW() *cowMap {
	m := &cowMap{}
	empty := map[string]*Conference{}
	m.p.Store(&empty)
	return m
}

func (m *cowMap) load(k string) (*Conference, bool) { v, ok := (*m.p.Load())[k]; return v, ok }

func (m *cowMap) store(k string, v *Conference) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.p.Load()
	n := make(map[string]*Conference, len(old)+1)
	for a, b := range old {
		n[a] = b
	}
	n[k] = v
	m.p.Store(&n)
}

func (m *cowMap) delete(k string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.p.Load()
	n := make(map[string]*Conference, len(old))
	for a, b := range old {
		if a != k {
			n[a] = b
		}
	}
	m.p.Store(&n)
}

type xsyncMap struct {
	m *xsync.Map[string, *Conference]
}

func (m xsyncMap) load(k string) (*Conference, bool) { return m.m.Load(k) }
func (m xsyncMap) store(k string, v *Conference)     { m.m.Store(k, v) }
func (m xsyncMap) delete(k string)                   { m.m.Delete(k) }

type stdSyncMap struct{ m sync.Map }

func (m *stdSyncMap) load(k string) (*Conference, bool) {
	v, ok := m.m.Load(k)
	if !ok {
		return nil, false
	}
	return v.(*Conference), true
}
func (m *stdSyncMap) store(k string, v *Conference) { m.m.Store(k, v) }
func (m *stdSyncMap) delete(k string)               { m.m.Delete(k) }

// BenchmarkConferenceTable runs lookups with a share of churn (a conference
// expired and another created) against 1,000 and 10,000 conferences.
// writesPerMille: 1 is steady state (connects dominate), 200 is S6-style
// churn (create, two connects, a PATCH, an expire per cycle).
func BenchmarkConferenceTable(b *testing.B) {
	impls := map[string]func() confMap{
		"cow":     func() confMap { return newCOW() },
		"xsync":   func() confMap { return xsyncMap{xsync.NewMap[string, *Conference]()} },
		"syncmap": func() confMap { return &stdSyncMap{} },
	}
	for _, size := range []int{1000, 10000} {
		for _, writes := range []int{1, 200} {
			for _, name := range []string{"cow", "xsync", "syncmap"} {
				b.Run(fmt.Sprintf("%s/confs=%d/writes=%d‰", name, size, writes), func(b *testing.B) {
					m := impls[name]()
					keys := make([]string, size)
					conf := &Conference{}
					for i := range keys {
						keys[i] = newConferenceID()
						m.store(keys[i], conf)
					}
					var next atomic.Uint64
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						i := next.Add(1) * 7919
						for pb.Next() {
							i++
							k := keys[i%uint64(size)]
							if i%1000 < uint64(writes) {
								m.delete(k)
								m.store(k, conf)
								continue
							}
							if _, ok := m.load(k); !ok {
								// a concurrent churn is between delete and store
								continue
							}
						}
					})
				})
			}
		}
	}
}
