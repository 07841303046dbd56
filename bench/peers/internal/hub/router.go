package hub

import (
	"encoding/json"
	"sync"
)

// ServerHello is the message every accepted connection receives first.
var ServerHello = []byte(`{"colibriClass":"ServerHello"}`)

// receivers is a pool of receiver lists.
var receivers = sync.Pool{New: func() any { s := make([]Conn, 0, 64); return &s }}

// OnText routes one text message from endpoint e (connection c): it
// rewrites "from" on EndpointMessage and EndpointStats, broadcasts to the
// other connected members or unicasts to "to", answers ClientHello, and
// drops everything else.
//
// This is the minimal stand-in router (encoding/json, no duplicate-key
// check) used until the project's routing package is wired in.
func (t *Table) OnText(e *Endpoint, c Conn, text []byte) {
	var m map[string]json.RawMessage
	if json.Unmarshal(text, &m) != nil {
		return
	}
	var class, to string
	if json.Unmarshal(m["colibriClass"], &class) != nil {
		return
	}
	switch class {
	case "ClientHello":
		t.tr.Send(ServerHello, []Conn{c})
		return
	case "EndpointMessage":
		if json.Unmarshal(m["to"], &to) != nil {
			return
		}
	case "EndpointStats":
	default:
		return
	}
	from, _ := json.Marshal(e.ID)
	m["from"] = from
	out, err := json.Marshal(m)
	if err != nil {
		return
	}
	rp := receivers.Get().(*[]Conn)
	rs := (*rp)[:0]
	for _, mb := range e.conf.Members() {
		if (to == "" && mb.EP != e) || (to != "" && mb.EP.ID == to) {
			rs = append(rs, mb.Conn)
		}
	}
	if len(rs) > 0 {
		t.tr.Send(out, rs)
	}
	clear(rs)
	*rp = rs[:0]
	receivers.Put(rp)
}
