package config

import (
	"fmt"
	"regexp"
	"strings"
)

// The hocon library reads unquoted values token by token and turns numeric
// pieces into numbers, which corrupts strings that HOCON (and Jitsi's
// Typesafe Config) keep as written: key-store-path=/opt/jvb-1.0/ks.p12 loses
// ".0", server-id = 007 becomes 7, and host = 127.0.0.1 does not parse at
// all. It also truncates 1.5 seconds to 1s and reads the size 1m as one
// minute. jvb.conf files write such values unquoted (the seed's TLS block
// does), so before parsing, quoteStrings puts quotes around the unquoted
// value of every key this package reads as a string, duration or size, and
// value.go parses the text itself. The rest of the file is left alone.

// rawKeyNames are the last path segments of those keys.
var rawKeyNames = []string{
	// strings
	"host", "key-store-path", "key-store-password", "cert-file", "key-file",
	"domain", "relay-domain", "server-id", "relay-id",
	// durations
	"keepalive-ping-interval", "idle-timeout", "handshake-timeout", "outbound-grace", "shutdown-timeout",
	"mailbox-age", "relay-replay-age",
	// sizes
	"max-header-size", "max-message-size", "outbound-budget", "global-outbound", "max-rest-body",
	"inbound-backlog", "mailbox-bytes", "relay-replay-bytes",
}

// stringAssignment matches "name =", "name:" or "a.b.name=" at a key position.
var stringAssignment = regexp.MustCompile(`(?:^|[\s{,.])(?:` + strings.Join(rawKeyNames, "|") + `)\s*[=:][ \t]*`)

// quoteStrings returns src with the unquoted values of the keys in
// rawKeyNames quoted. A value runs to the end of the line, a ',', a '}' or a comment
// ('#' or '//', except the '//' of "scheme://", so that a domain written
// with a scheme gets a precise error). Values that are already quoted,
// lists, objects, substitutions, null, and values containing '"' or '\' are
// left as they are.
func quoteStrings(src string) string {
	lines := strings.SplitAfter(src, "\n")
	for i, line := range lines {
		lines[i] = quoteLine(line)
	}
	return strings.Join(lines, "")
}

func quoteLine(line string) string {
	var out strings.Builder
	for {
		loc := stringAssignment.FindStringIndex(line)
		if loc == nil {
			out.WriteString(line)
			return out.String()
		}
		start := loc[1]
		end := valueEnd(line, start)
		value := strings.TrimRight(line[start:end], " \t\r")
		out.WriteString(line[:start])
		if quotable(value) {
			out.WriteString(`"` + value + `"`)
			out.WriteString(line[start+len(value) : end])
		} else {
			out.WriteString(line[start:end])
		}
		line = line[end:]
	}
}

// valueEnd returns the index where a value starting at start ends: after
// the closing quote of a quoted value, else at the end of the unquoted one.
func valueEnd(line string, start int) int {
	if start < len(line) && line[start] == '"' {
		for i := start + 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return len(line)
	}
	for i := start; i < len(line); i++ {
		switch line[i] {
		case ',', '}', '#', '\n':
			return i
		case '/':
			if i+1 < len(line) && line[i+1] == '/' && (i == start || line[i-1] != ':') {
				return i
			}
		}
	}
	return len(line)
}

// quotable reports whether an unquoted value should be rewritten.
func quotable(v string) bool {
	if v == "" || v == "null" || strings.ContainsAny(v, `"\`) {
		return false
	}
	switch v[0] {
	case '[', '{', '$':
		return false
	}
	return true
}

// checkBalance reports unterminated strings and unbalanced brackets, with
// the line they start on. The hocon library loops forever on some of them
// (a list left open at the end of the file), so they are caught first.
func checkBalance(src string) error {
	type open struct {
		ch   byte
		line int
	}
	var stack []open
	line := 1
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\n':
			line++
		case c == '#' || c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // let the loop see the newline
		case strings.HasPrefix(src[i:], `"""`):
			end := strings.Index(src[i+3:], `"""`)
			if end < 0 {
				return fmt.Errorf("line %d: unterminated \"\"\" string", line)
			}
			line += strings.Count(src[i:i+3+end], "\n")
			i += 3 + end + 2
		case c == '"':
			j := i + 1
			for ; j < len(src) && src[j] != '"' && src[j] != '\n'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			if j >= len(src) || src[j] != '"' {
				return fmt.Errorf("line %d: unterminated string (a quoted string ends on its line)", line)
			}
			i = j
		case c == '[' || c == '{':
			stack = append(stack, open{c, line})
		case c == ']' || c == '}':
			want := byte('[')
			if c == '}' {
				want = '{'
			}
			if len(stack) == 0 {
				return fmt.Errorf("line %d: %c closes nothing", line, c)
			}
			top := stack[len(stack)-1]
			if top.ch != want {
				return fmt.Errorf("line %d: %c closes the %c opened on line %d", line, c, top.ch, top.line)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return fmt.Errorf("line %d: %c is never closed", top.line, top.ch)
	}
	return nil
}

// The hocon library lets Go's text/scanner skip "//" comments itself, newline
// included, so a "//" inside a '#' comment hides the end of that comment's
// line and the comment runs on over the next line: "# see https://x" drops
// the key written after it. text/scanner also skips "/* ... */", which HOCON
// does not have, over any number of lines. So before parsing,
// stripComments removes the comments itself and the library never sees one.

// stripComments returns src without its comments. As in HOCON, outside a
// quoted string '#' or "//" starts a comment, also inside an unquoted value
// (url = http://x is url = http:, which does not parse), and a comment runs
// to the end of its line; the newline stays, so line numbers do not change.
// Inside "..." (which ends on its line) and """...""" nothing is a comment.
// A "/*" outside strings and comments is an error: '*' is not allowed
// unquoted, and the library would skip up to the next "*/".
func stripComments(src string) (string, error) {
	var out strings.Builder
	out.Grow(len(src))
	line := 1
	for i := 0; i < len(src); {
		switch c := src[i]; {
		case c == '\n':
			line++
			out.WriteByte(c)
			i++
		case c == '#' || strings.HasPrefix(src[i:], "//"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				return out.String(), nil
			}
			if end > 0 && src[i+end-1] == '\r' {
				end-- // keep a CRLF line end whole
			}
			i += end
		case strings.HasPrefix(src[i:], "/*"):
			return "", fmt.Errorf("line %d: /* is not a HOCON comment (use # or //); a value with '*' must be quoted", line)
		case strings.HasPrefix(src[i:], `"""`):
			end := tripleQuoteEnd(src, i)
			line += strings.Count(src[i:end], "\n")
			out.WriteString(src[i:end])
			i = end
		case c == '"':
			j := i + 1
			for ; j < len(src) && src[j] != '"' && src[j] != '\n'; j++ {
				if src[j] == '\\' && j+1 < len(src) && src[j+1] != '\n' {
					j++
				}
			}
			if j < len(src) && src[j] == '"' {
				j++
			}
			// An unterminated string stops before its newline: checkBalance
			// reports it.
			out.WriteString(src[i:j])
			i = j
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.String(), nil
}

// tripleQuoteEnd returns the index just past the """ string that starts at
// src[start:], or len(src) if it is not closed. As in the hocon library,
// the string ends at the first run of three or more quotes, with the whole
// run: quotes before the last three are part of the string.
func tripleQuoteEnd(src string, start int) int {
	for i := start + 3; i < len(src); i++ {
		if src[i] != '"' {
			continue
		}
		run := i
		for run < len(src) && src[run] == '"' {
			run++
		}
		if run-i >= 3 {
			return run
		}
		i = run - 1
	}
	return len(src)
}
