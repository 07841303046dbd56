// Package hub is the bridge core shared by the bench peers: the
// conference table, the colibri2 REST subset the load generator uses,
// WebSocket URL authentication, and message routing handed to a
// transport through the small Transport interface. Each peer supplies
// only the transport (gorilla, gws, nbio), so only the transport differs.
//
// Until the project's routing and colibri2 packages exist this package
// carries a minimal self-contained router (router.go); it depends on
// nothing else in this module.
package hub

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
)

// Conn is a transport's connection handle, opaque to the hub.
type Conn any

// Transport writes messages to its connections.
type Transport interface {
	// Send writes one text message to each receiver. text is valid only
	// during the call; the transport encodes it once and must not keep it.
	Send(text []byte, to []Conn)
	// Close closes a connection (endpoint expired or replaced).
	Close(c Conn, code uint16, reason string)
}

// Endpoint is one endpoint created through REST.
type Endpoint struct {
	ID   string
	Pwd  string
	conf *Conference
}

// Conference is one conference and its connected members.
type Conference struct {
	ID      string // the bridge's hex id used in URLs
	Meeting string
	mu      sync.Mutex
	eps     map[string]*Endpoint
	members atomic.Pointer[[]Member] // copy-on-write, read without locks
	expired bool
}

// Member is a connected endpoint.
type Member struct {
	EP   *Endpoint
	Conn Conn
}

// Conf returns the endpoint's conference.
func (e *Endpoint) Conf() *Conference { return e.conf }

// Members returns the connected members; the slice must not be modified.
func (c *Conference) Members() []Member {
	if p := c.members.Load(); p != nil {
		return *p
	}
	return nil
}

// Table holds every conference of a bridge.
type Table struct {
	ServerID string
	WSBase   string // ws://host:port advertised in URLs
	tr       Transport
	mu       sync.RWMutex
	byID     map[string]*Conference
	byMeet   map[string]*Conference
}

// NewTable returns an empty table whose URLs start with wsBase.
func NewTable(serverID, wsBase string, tr Transport) *Table {
	return &Table{ServerID: serverID, WSBase: wsBase, tr: tr,
		byID: map[string]*Conference{}, byMeet: map[string]*Conference{}}
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const pwdChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomPwd returns a 24-character [A-Za-z0-9] secret.
func randomPwd() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = pwdChars[int(b[i])%len(pwdChars)]
	}
	return string(b)
}

// conference returns (creating if asked) the conference of a meeting.
func (t *Table) conference(meeting string, create bool) *Conference {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byMeet[meeting]
	if c == nil && create {
		c = &Conference{ID: randomID(8), Meeting: meeting, eps: map[string]*Endpoint{}}
		t.byMeet[meeting] = c
		t.byID[c.ID] = c
	}
	return c
}

// addEndpoint creates (or returns) an endpoint.
func (c *Conference) addEndpoint(id string) *Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.eps[id]
	if e == nil {
		e = &Endpoint{ID: id, Pwd: randomPwd(), conf: c}
		c.eps[id] = e
	}
	return e
}

// URL is the endpoint's advertised WebSocket URL.
func (t *Table) URL(e *Endpoint) string {
	return t.WSBase + "/colibri-ws/" + t.ServerID + "/" + e.conf.ID + "/" + e.ID + "?pwd=" + e.Pwd
}

// Authenticate checks a /colibri-ws/{server-id}/{conf-id}/{endpoint-id}
// request: it returns the endpoint, or 404 (bad path, other server) or
// 403 (unknown conference or endpoint, wrong pwd).
func (t *Table) Authenticate(path, pwd string) (*Endpoint, int) {
	rest, ok := strings.CutPrefix(path, "/colibri-ws/")
	if !ok {
		return nil, 404
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] != t.ServerID {
		return nil, 404
	}
	t.mu.RLock()
	c := t.byID[parts[1]]
	t.mu.RUnlock()
	if c == nil {
		return nil, 403
	}
	c.mu.Lock()
	e := c.eps[parts[2]]
	expired := c.expired
	c.mu.Unlock()
	if e == nil || expired || e.Pwd != pwd {
		return nil, 403
	}
	return e, 0
}

// PwdFromQuery extracts pwd=… from a raw query without allocating a map.
func PwdFromQuery(q string) string {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if v, ok := strings.CutPrefix(kv, "pwd="); ok {
			return v
		}
	}
	return ""
}

// Join records c as e's connection; an older connection is closed
// ("replaced"). It returns false when the conference has expired.
func (t *Table) Join(e *Endpoint, c Conn) bool {
	conf := e.conf
	conf.mu.Lock()
	if conf.expired || conf.eps[e.ID] != e {
		conf.mu.Unlock()
		return false
	}
	old := conf.Members()
	next := make([]Member, 0, len(old)+1)
	var replaced Conn
	for _, m := range old {
		if m.EP == e {
			replaced = m.Conn
			continue
		}
		next = append(next, m)
	}
	next = append(next, Member{EP: e, Conn: c})
	conf.members.Store(&next)
	conf.mu.Unlock()
	if replaced != nil {
		t.tr.Close(replaced, 1000, "replaced")
	}
	return true
}

// Leave forgets c if it is still e's connection.
func (t *Table) Leave(e *Endpoint, c Conn) {
	conf := e.conf
	conf.mu.Lock()
	defer conf.mu.Unlock()
	old := conf.Members()
	next := make([]Member, 0, len(old))
	for _, m := range old {
		if m.EP != e || m.Conn != c {
			next = append(next, m)
		}
	}
	conf.members.Store(&next)
}

// expireEndpoint removes an endpoint and closes its connection.
func (t *Table) expireEndpoint(conf *Conference, id string) {
	conf.mu.Lock()
	e := conf.eps[id]
	delete(conf.eps, id)
	var closing []Conn
	old := conf.Members()
	next := make([]Member, 0, len(old))
	for _, m := range old {
		if m.EP == e {
			closing = append(closing, m.Conn)
			continue
		}
		next = append(next, m)
	}
	conf.members.Store(&next)
	conf.mu.Unlock()
	for _, c := range closing {
		t.tr.Close(c, 1001, "endpoint closed")
	}
}

// expireConference removes a conference and closes its connections.
func (t *Table) expireConference(conf *Conference) {
	t.mu.Lock()
	delete(t.byID, conf.ID)
	delete(t.byMeet, conf.Meeting)
	t.mu.Unlock()
	conf.mu.Lock()
	conf.expired = true
	old := conf.Members()
	conf.members.Store(&[]Member{})
	conf.mu.Unlock()
	for _, m := range old {
		t.tr.Close(m.Conn, 1001, "endpoint closed")
	}
}
