package colibri2

import (
	"fmt"
	"github.com/colibri-bus/colibri/internal/route"

	"github.com/colibri-bus/colibri/routing"
)

// RelayDialer connects the dialling side of a relay. The engine implements
// it; colibri2 never touches sockets.
type RelayDialer interface {
	// DialRelay starts (or restarts, for a new URL) dialling url for r and
	// keeps the link up until r expires.
	DialRelay(r *route.Relay, url string)
}

// applyRelay creates, updates or expires one relay and describes it.
func (s *Server) applyRelay(conf *route.Conference, rq *RelayRequest) (*RelayResponse, error) {
	if rq.Expire {
		if conf.ExpireRelay(rq.ID) {
			s.log.Info("relay expired", "conf", conf.ID(), "id", rq.ID)
		}
		return nil, nil
	}
	rl := conf.Relay(rq.ID)
	if rq.Create {
		var err error
		if rl, err = conf.CreateRelay(rq.ID, rq.MeshID); err != nil {
			return nil, err
		}
		s.log.Info("relay created", "conf", conf.ID(), "id", rq.ID, "mesh", rq.MeshID)
	} else if rl == nil {
		return nil, fmt.Errorf("relay %q: %w (set \"create\": true)", rq.ID, routing.ErrNotFound)
	}
	var add, remove []string
	for _, e := range rq.Endpoints {
		if e.Expire {
			remove = append(remove, e.ID)
		} else {
			add = append(add, e.ID)
		}
	}
	if len(add)+len(remove) > 0 {
		if err := conf.SetRelayEndpoints(rq.ID, add, remove); err != nil {
			if rq.Create {
				conf.ExpireRelay(rq.ID)
			}
			return nil, err
		}
	}
	if rq.Transport != nil {
		for _, u := range rq.Transport.Transport.WebSockets {
			if u != "active" && s.dialer != nil {
				if u != rl.URL() {
					s.dialer.DialRelay(rl, u)
				}
				break
			}
		}
	}
	return s.describeRelay(rl), nil
}

// describeRelay reports "active" when this side dials, else this bridge's
// colibri-relay-ws URLs for the other side to dial.
func (s *Server) describeRelay(rl *route.Relay) *RelayResponse {
	t := Transport{XMLNS: iceUDP, Ufrag: iceUfrag(rl.ID()), Pwd: icePwd(rl.Password()), RTCPMux: true}
	if rl.URL() != "" {
		t.WebSockets = []string{"active"}
	} else {
		t.WebSockets = s.cfg.RelayURLs(rl.Conference().ID(), rl.ID(), rl.Password())
	}
	return &RelayResponse{ID: rl.ID(), Transport: TransportWrapper{Transport: t}}
}
