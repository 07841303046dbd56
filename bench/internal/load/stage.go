package load

import (
	"strings"

	"github.com/colibri-bus/colibri/wsproto"
)

// stageSenders has every receiver of an EndpointStats scenario put the
// conference's senders on stage (ReceiverVideoConstraints with
// onStageSources "<sender>-v0"), as lib-jitsi-meet does for the endpoints a
// participant watches. Above videobridge.stats-filter-threshold (20) a
// bridge sends a sender's stats only to receivers that staged or selected
// it, as Jitsi does; without this, S3's 999 receivers would get nothing.
// Each receiver's constraints go out before any traffic starts, and the
// warmup window separates them from the measured messages.
func (w *worker) stageSenders() {
	c := &w.cfg
	if c.Class != "EndpointStats" || c.Unicast {
		return
	}
	for _, p := range w.plan {
		senders := min(c.Senders, len(p.eps))
		var src []string
		for j := 0; j < senders; j++ {
			src = append(src, `"`+p.eps[j]+`-v0"`)
		}
		msg := []byte(`{"colibriClass":"ReceiverVideoConstraints","onStageSources":[` + strings.Join(src, ",") + `]}`)
		for j := range p.eps {
			if cn := w.conns[p.first+j]; cn.nc != nil {
				cn.control(wsproto.OpText, msg)
			}
		}
	}
}
