package engine

import (
	"testing"
	"unsafe"

	"github.com/colibri-bus/colibri/internal/route"
)

// TestConnSize: an idle endpoint's record stays in the allocator's
// 256-byte class (issue 22's memory target: connMore holds the rest).
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 256 {
		t.Errorf("conn is %d bytes, over 256: put what few connections need in connMore", n)
	}
}

// TestCountSent: counts by class survive more classes than slots, and a
// flush publishes each once.
func TestCountSent(t *testing.T) {
	tests := []struct {
		name    string
		classes []route.Class
	}{
		{"none", nil},
		{"one class", []route.Class{route.ClassEndpointMessage, route.ClassEndpointMessage}},
		{"four", []route.Class{route.ClassServerHello, route.ClassEndpointMessage, route.ClassEndpointStats, route.ClassForwardedSources, route.ClassEndpointMessage}},
		{"six, spilling", []route.Class{route.ClassServerHello, route.ClassEndpointMessage, route.ClassEndpointStats,
			route.ClassForwardedSources, route.ClassVideoSourcesMap, route.ClassAudioSourcesMap, route.ClassEndpointMessage, route.ClassServerHello}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := route.NewTable(route.TableLimits{})
			conf, err := tab.CreateConference("m", "")
			if err != nil {
				t.Fatal(err)
			}
			eps, err := conf.CreateEndpoints([]string{"e"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := &conn{loop: &loop{}, peer: &eps[0].Peer}
			want := map[string]uint64{}
			for _, cl := range tt.classes {
				c.countSent(cl)
				want[cl.String()]++
			}
			c.publishSent()
			c.publishSent() // publishes nothing twice
			if n, all := c.loop.count.sent.Load(), uint64(len(tt.classes)); n != all {
				t.Errorf("the loop counted %d sent, want %d", n, all)
			}
			got := c.peer.Sent.Map()
			if len(got) != len(want) {
				t.Fatalf("published %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %d published, want %d", k, got[k], v)
				}
			}
		})
	}
}

// TestConnHotLine: the fields a delivery touches (conn.write, countSent,
// markDirty) end within the record's first 64 bytes, so that a broadcast
// reads one cache line of each receiver's record.
func TestConnHotLine(t *testing.T) {
	var c conn
	hot := map[string]uintptr{
		"loop":    unsafe.Offsetof(c.loop) + unsafe.Sizeof(c.loop),
		"pend":    unsafe.Offsetof(c.pend) + unsafe.Sizeof(c.pend),
		"more":    unsafe.Offsetof(c.more) + unsafe.Sizeof(c.more),
		"flate":   unsafe.Offsetof(c.flate) + unsafe.Sizeof(c.flate),
		"outAcct": unsafe.Offsetof(c.outAcct) + unsafe.Sizeof(c.outAcct),
		"state":   unsafe.Offsetof(c.state) + unsafe.Sizeof(c.state),
		"client":  unsafe.Offsetof(c.client) + unsafe.Sizeof(c.client),
		"dirty":   unsafe.Offsetof(c.dirty) + unsafe.Sizeof(c.dirty),
		"sent":    unsafe.Offsetof(c.sent) + unsafe.Sizeof(c.sent),
	}
	for name, end := range hot {
		if end > 64 {
			t.Errorf("conn.%s ends at byte %d, past the first cache line", name, end)
		}
	}
}
