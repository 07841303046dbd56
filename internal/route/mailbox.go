package route

import (
	"sync"
	"sync/atomic"
	"time"
)

// MailboxLimits bound one endpoint's mailbox: the messages kept for it
// while it has no open socket. Bytes 0 disables mailboxes (Jitsi's
// behaviour: such messages are dropped, DropNoConnection).
type MailboxLimits struct {
	Bytes int           // payload bytes kept; past it the oldest go first
	Age   time.Duration // a message older than this is not delivered
}

// Mailbox holds, in order, the messages for an endpoint that has no open
// socket: it has not connected yet, its socket closed and the client is
// reconnecting, or the socket is being replaced. The next socket gets them
// right after ServerHello. Safe for concurrent use.
type Mailbox struct {
	mu    sync.Mutex
	items []mail // oldest first
	bytes int
	// closed: the endpoint expired (clear). Frames routed to it before
	// that can still arrive, through its ghost's event loop or a dead
	// socket's unsent frames: they are dropped as expired, not kept in a
	// mailbox nobody will take (they used to stay there, counted as
	// queued and never as delivered or dropped).
	closed bool

	len, size atomic.Int64  // published for /debug
	lost      atomic.Uint64 // messages dropped, by any reason (also counted in MailStats)
}

// MailStats count what the bridge's mailboxes did. Every message queued is
// delivered once or dropped once, for one of the four reasons. Recovered
// counts the messages taken back from a dead socket's unsent frames (they
// are also counted as queued).
type MailStats struct {
	Queued, Delivered, Recovered         atomic.Uint64
	Full, Aged, Superseded, ExpiredCount atomic.Uint64
}

// mailDrop says why a kept message was dropped.
type mailDrop uint8

const (
	mailFull       mailDrop = iota // the mailbox was over its bytes
	mailAged                       // older than the age bound
	mailSuperseded                 // a newer EndpointStats of the same sender came
	mailExpired                    // the endpoint expired
)

func (s *MailStats) drop(d mailDrop) {
	switch d {
	case mailFull:
		s.Full.Add(1)
	case mailAged:
		s.Aged.Add(1)
	case mailSuperseded:
		s.Superseded.Add(1)
	default:
		s.ExpiredCount.Add(1)
	}
}

// Dropped returns the drops by the reason names /colibri/stats shows
// (dropped_<name>).
func (s *MailStats) Dropped() map[string]uint64 {
	return map[string]uint64{
		"mailbox_full": s.Full.Load(), "mailbox_aged": s.Aged.Load(),
		"mailbox_superseded": s.Superseded.Load(), "mailbox_expired": s.ExpiredCount.Load(),
	}
}

// mail is one kept message.
type mail struct {
	msg   []byte // the payload, owned by the mailbox
	class Class
	from  string // the sender, for EndpointStats
	at    int64  // unix nanoseconds, when first queued
}

// Mail is a message taken out of a mailbox.
type Mail struct {
	Msg   []byte
	Class Class
}

// Len returns the messages held and their payload bytes.
func (b *Mailbox) Len() (messages, bytes int) { return int(b.len.Load()), int(b.size.Load()) }

// newMail copies msg into a kept message.
func newMail(msg []byte, class Class, now int64) mail {
	return ownMail(append([]byte(nil), msg...), class, now)
}

// ownMail makes a kept message of msg, which the mailbox owns from now on.
func ownMail(msg []byte, class Class, now int64) mail {
	m := mail{msg: msg, class: class, at: now}
	if class == ClassEndpointStats {
		m.from = senderOf(msg)
	}
	return m
}

// put appends msg (copied) and applies the limits; the drops are counted
// in s. now is unix nanoseconds.
func (b *Mailbox) put(msg []byte, class Class, now int64, lim MailboxLimits, s *MailStats) {
	s.Queued.Add(1)
	b.mu.Lock()
	b.insert(newMail(msg, class, now), false, now, lim, s)
	b.mu.Unlock()
}

// prepend puts msgs, in their order, before everything held: they are
// older (a dead socket's unsent frames). Each is counted as queued.
func (b *Mailbox) prepend(msgs []Mail, now int64, lim MailboxLimits, s *MailStats) {
	if len(msgs) == 0 {
		return
	}
	s.Queued.Add(uint64(len(msgs)))
	b.mu.Lock()
	for i := len(msgs) - 1; i >= 0; i-- {
		b.insert(ownMail(msgs[i].Msg, msgs[i].Class, now), true, now, lim, s)
	}
	b.mu.Unlock()
}

// insert adds m at the tail (or the head) and evicts as evict decides.
func (b *Mailbox) insert(m mail, head bool, now int64, lim MailboxLimits, s *MailStats) {
	if b.closed {
		b.drop(s, mailExpired)
		return
	}
	if m.from != "" {
		// Droppable statistics: only the newest of a sender is worth
		// sending, so the older one goes (or, at the head, m itself).
		for i := range b.items {
			if b.items[i].class == ClassEndpointStats && b.items[i].from == m.from {
				if head {
					b.drop(s, mailSuperseded)
					return
				}
				b.remove(i)
				b.drop(s, mailSuperseded)
				break
			}
		}
	}
	if head {
		b.items = append(b.items, mail{})
		copy(b.items[1:], b.items)
		b.items[0] = m
	} else {
		b.items = append(b.items, m)
	}
	b.bytes += len(m.msg)
	n, reason := evict(b.items, b.bytes, now, lim)
	for range n {
		b.drop(s, reason[0])
		b.bytes -= len(b.items[0].msg)
		b.items[0] = mail{}
		b.items = b.items[1:]
		reason = reason[1:]
	}
	b.publish()
}

// drop counts one kept message dropped for reason d: in the table's
// stats and in the mailbox's own count.
func (b *Mailbox) drop(s *MailStats, d mailDrop) {
	s.drop(d)
	b.lost.Add(1)
}

func (b *Mailbox) remove(i int) {
	b.bytes -= len(b.items[i].msg)
	last := len(b.items) - 1
	copy(b.items[i:], b.items[i+1:])
	b.items[last] = mail{}
	b.items = b.items[:last]
}

func (b *Mailbox) publish() {
	b.len.Store(int64(len(b.items)))
	b.size.Store(int64(b.bytes))
}

// evict decides how many of the oldest items go, and why: those older
// than lim.Age, then as many as needed to bring bytes to lim.Bytes. items
// are oldest first; the reasons are returned in order, one per item.
func evict(items []mail, bytes int, now int64, lim MailboxLimits) (int, []mailDrop) {
	var why []mailDrop
	n := 0
	for n < len(items) && lim.Age > 0 && now-items[n].at > int64(lim.Age) {
		why = append(why, mailAged)
		bytes -= len(items[n].msg)
		n++
	}
	for n < len(items) && bytes > lim.Bytes {
		why = append(why, mailFull)
		bytes -= len(items[n].msg)
		n++
	}
	return n, why
}

// take empties the mailbox and returns what is still young enough, in
// order; the aged are counted as dropped. Delivered is counted by the
// caller once the messages are queued on the socket.
func (b *Mailbox) take(now int64, lim MailboxLimits, s *MailStats) []Mail {
	b.mu.Lock()
	items := b.items
	b.items, b.bytes = nil, 0
	b.publish()
	b.mu.Unlock()
	out := make([]Mail, 0, len(items))
	for _, m := range items {
		if lim.Age > 0 && now-m.at > int64(lim.Age) {
			b.drop(s, mailAged)
			continue
		}
		out = append(out, Mail{Msg: m.msg, Class: m.class})
	}
	return out
}

// clear drops everything held (the endpoint expired), counting each, and
// closes the mailbox: what comes later is dropped as expired.
func (b *Mailbox) clear(s *MailStats) {
	b.mu.Lock()
	n := len(b.items)
	b.items, b.bytes, b.closed = nil, 0, true
	b.publish()
	b.mu.Unlock()
	for range n {
		b.drop(s, mailExpired)
	}
}

// senderOf returns the "from" of a message the bridge built, or "".
func senderOf(msg []byte) string {
	var env envelope
	if scan(msg, &env) != nil {
		return ""
	}
	from, _ := env.fromValue(msg)
	return from
}
