package route

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
)

// Close reasons the bridge sends (reference section 1.5).
const (
	ReasonReplaced       = "replaced"
	ReasonEndpointClosed = "endpoint closed"
	ReasonRelayClosed    = "relay_closed"
)

// Conn is the live WebSocket behind an endpoint or a relay. The transport
// (engine, or a benchmark peer) implements it; routing only hands it to a
// Sink and closes it.
type Conn interface {
	// Close starts the closing handshake with code and reason. It is safe
	// from any goroutine, does not block, and is idempotent.
	Close(code uint16, reason string)
}

// Table is the conference table: conferences keyed by the bridge's own hex
// conference id and by meeting id. Lookups take no lock; creating and
// expiring take the table's mutex. The message hot path never touches the
// table: it goes from an endpoint to its conference directly.
type Table struct {
	mu       sync.Mutex
	byID     *xsync.Map[string, *Conference]
	byMeet   *xsync.Map[string, *Conference]
	count    atomic.Int64
	draining atomic.Bool

	lim TableLimits
	// Mail counts what the mailboxes did; Resume what the resuming relay
	// links did.
	Mail   MailStats
	Resume ResumeStats

	clock func() int64 // unix nanoseconds; nil: the wall clock

	endpointExpired func(*Endpoint) // the embedder's hook; nil: none
}

// OnEndpointExpired makes fn run once for every endpoint expired from now
// on, on the goroutine that expired it, after its socket was told to
// close. Set it before the table is used.
func (t *Table) OnEndpointExpired(fn func(*Endpoint)) { t.endpointExpired = fn }

// SetClock makes now the table's clock, in unix nanoseconds, for the ages
// of mailboxes. A deterministic simulation sets it before the table is
// used; nil (the default) is the wall clock.
func (t *Table) SetClock(now func() int64) { t.clock = now }

// now is the table's clock.
func (t *Table) now() int64 {
	if t.clock != nil {
		return t.clock()
	}
	return time.Now().UnixNano()
}

// TableLimits bound a table.
type TableLimits struct {
	// Conferences refuses creation past this count (0: no limit).
	Conferences int
	// Mailbox bounds every endpoint's mailbox (Bytes 0: no mailboxes).
	Mailbox MailboxLimits
	// Replay bounds every resuming relay link's replay window.
	Replay ReplayLimits
}

// LimitsOf returns the table bounds a bridge's configuration sets.
func LimitsOf(l config.Limits) TableLimits {
	return TableLimits{
		Conferences: l.MaxConferences,
		Mailbox:     MailboxLimits{Bytes: l.MailboxBytes, Age: l.MailboxAge},
		Replay:      ReplayLimits{Bytes: l.RelayReplayBytes, Age: l.RelayReplayAge},
	}
}

// NewTable returns an empty table bounded by lim.
func NewTable(lim TableLimits) *Table {
	return &Table{
		byID:   xsync.NewMap[string, *Conference](),
		byMeet: xsync.NewMap[string, *Conference](),
		lim:    lim,
	}
}

// Limits returns the table's bounds.
func (t *Table) Limits() TableLimits { return t.lim }

// SetDraining makes CreateConference fail with ErrDraining while on.
func (t *Table) SetDraining(on bool) { t.draining.Store(on) }

// Draining reports whether the table refuses new conferences.
func (t *Table) Draining() bool { return t.draining.Load() }

// Len returns the number of live conferences.
func (t *Table) Len() int { return int(t.count.Load()) }

// CreateConference adds a conference for meetingID with a fresh random id.
func (t *Table) CreateConference(meetingID, name string) (*Conference, error) {
	if meetingID == "" {
		return nil, fmt.Errorf("%w: empty meeting-id", routing.ErrInvalidID)
	}
	if t.draining.Load() {
		return nil, routing.ErrDraining
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.byMeet.Load(meetingID); ok {
		return nil, fmt.Errorf("conference %q: %w", meetingID, routing.ErrExists)
	}
	if t.lim.Conferences > 0 && int(t.count.Load()) >= t.lim.Conferences {
		return nil, routing.ErrTooMany
	}
	c := &Conference{meetingID: meetingID, name: name, table: t, created: time.Now()}
	for {
		c.id = newConferenceID()
		if _, taken := t.byID.Load(c.id); !taken {
			break
		}
	}
	c.state.Store(&members{})
	t.byID.Store(c.id, c)
	t.byMeet.Store(meetingID, c)
	t.count.Add(1)
	return c, nil
}

// Conference returns the conference with the bridge's id, or nil.
func (t *Table) Conference(id string) *Conference {
	c, _ := t.byID.Load(id)
	return c
}

// ConferenceByMeeting returns the conference of a colibri2 meeting-id, or nil.
func (t *Table) ConferenceByMeeting(meetingID string) *Conference {
	c, _ := t.byMeet.Load(meetingID)
	return c
}

// Conferences returns a snapshot of the live conferences, in no order.
func (t *Table) Conferences() []*Conference {
	out := make([]*Conference, 0, t.count.Load())
	t.byID.Range(func(_ string, c *Conference) bool {
		out = append(out, c)
		return true
	})
	return out
}

// ExpireConference removes c and closes every socket of it with 1001.
func (t *Table) ExpireConference(c *Conference) {
	t.mu.Lock()
	if cur, ok := t.byID.Load(c.id); !ok || cur != c {
		t.mu.Unlock()
		return
	}
	t.byID.Delete(c.id)
	t.byMeet.Delete(c.meetingID)
	t.count.Add(-1)
	t.mu.Unlock()
	c.expireAll()
}

// newConferenceID returns 16 hex digits, like Jitsi's conference ids.
func newConferenceID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("routing: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// PasswordLength is the length of a WebSocket URL secret (Jitsi's, since 2026-08).
const PasswordLength = 24

// NewPassword returns a 24-character [A-Za-z0-9] secret from crypto/rand,
// without modulo bias.
func NewPassword() string {
	var out [PasswordLength]byte
	var buf [64]byte
	n := 0
	for n < len(out) {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("routing: crypto/rand failed: " + err.Error())
		}
		for _, v := range buf {
			if v >= 248 { // 248 = 4*62: reject to keep the draw uniform
				continue
			}
			out[n] = passwordAlphabet[int(v)%len(passwordAlphabet)]
			n++
			if n == len(out) {
				break
			}
		}
	}
	return string(out[:])
}

// validID reports whether id may name an endpoint or relay: it appears in
// URL paths and JSON, so it is limited to printable characters that need no
// escaping in either.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '@' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}
