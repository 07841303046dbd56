package route

import (
	"testing"

	"github.com/colibri-bus/colibri/routing"
)

// TestViewsAllocateNothing: a handle is the record's pointer under another
// type, so a hook that gets one (WantsStats runs once per receiver of every
// EndpointStats) costs no allocation, and two handles of one record are
// equal.
func TestViewsAllocateNothing(t *testing.T) {
	c, err := NewTable(TableLimits{}).CreateConference("m", "")
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := c.CreateEndpoint("a", routing.EndpointOptions{})
	var wants func(routing.Endpoint, string) bool = func(e routing.Endpoint, _ string) bool { return e.ID() == "a" }
	if n := testing.AllocsPerRun(1000, func() {
		if !wants(PublicEndpoint(ep), "b") {
			t.Fatal("wrong endpoint")
		}
	}); n != 0 {
		t.Errorf("a hook call with a handle allocates %v times", n)
	}
	if PublicEndpoint(ep) != PublicConference(c).Endpoint("a") || EndpointOf(PublicEndpoint(ep)) != ep {
		t.Errorf("handles of one record differ, or do not lead back to it")
	}
	if PublicEndpoint(nil) != nil || PublicConference(nil) != nil || PublicRelay(nil) != nil {
		t.Errorf("a nil record is not a nil handle")
	}
}
