package wsproto

// equalFoldASCII reports whether s equals t (ASCII lower case) ignoring case.
func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(s[i]) != lower(t[i]) {
			return false
		}
	}
	return true
}

// equalFoldBytes is equalFoldASCII for a byte slice, without a conversion.
func equalFoldBytes(s []byte, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(s[i]) != lower(t[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes optional whitespace (SP, HTAB) around s.
func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func trimOWSBytes(s []byte) []byte {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// hasToken reports whether the comma-separated list v contains token,
// ignoring ASCII case and optional whitespace around elements.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		elem := v
		rest := []byte(nil)
		for i, c := range v {
			if c == ',' {
				elem, rest = v[:i], v[i+1:]
				break
			}
		}
		if equalFoldBytes(trimOWSBytes(elem), token) {
			return true
		}
		v = rest
	}
	return false
}
