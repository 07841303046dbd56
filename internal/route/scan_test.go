package route

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/colibri-bus/colibri/routing"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func scanRejectCases() map[string]error {
	return map[string]error{
		``:                             routing.ErrInvalidJSON,
		`[]`:                           routing.ErrNotObject,
		`{"a":1,}`:                     routing.ErrInvalidJSON,
		`{"a":1 "b":2}`:                routing.ErrInvalidJSON,
		`{"a":01}`:                     routing.ErrInvalidJSON,
		`{"a":"\x"}`:                   routing.ErrInvalidJSON,
		"{\"a\":\"\x01\"}":             routing.ErrInvalidJSON,
		`{"a":1}x`:                     routing.ErrInvalidJSON,
		`{"to":"a","to":"b"}`:          routing.ErrDuplicateKey,
		`{"x":{"y":1,"y":2}}`:          routing.ErrDuplicateKey,
		`{"x":[{"y":1,"\u0079":2}]}`:   routing.ErrDuplicateKey,
		`{"from":"a","fr\u006fm":"b"}`: routing.ErrDuplicateKey,
		`{"a":tru}`:                    routing.ErrInvalidJSON,
		`{"a":1.}`:                     routing.ErrInvalidJSON,
		`{"a":-}`:                      routing.ErrInvalidJSON,
	}
}

func TestScanRejects(t *testing.T) {
	cases := scanRejectCases()
	for in, want := range cases {
		var env envelope
		if err := scan([]byte(in), &env); err != want {
			t.Errorf("scan(%q) = %v, want %v", in, err, want)
		}
	}
	deep := ""
	for i := 0; i < 100; i++ {
		deep += `{"a":`
	}
	deep += "1"
	for i := 0; i < 100; i++ {
		deep += "}"
	}
	var env envelope
	if err := scan([]byte(deep), &env); err != routing.ErrTooDeep {
		t.Errorf("deep nesting: %v", err)
	}
}

// TestScanAcceptsAgreesWithEncodingJSON compares scan with encoding/json
// (refScan) on a corpus, both accepts and rejects: the seed messages of
// the reference (reference/jvb-colibri-ws.md 4.3, client and bridge side,
// two of which hold "{...}" placeholders and are invalid), the fuzz seeds
// and stored fuzz corpus, the earlier fixtures, and generated documents
// (valid objects with nesting, escapes, duplicates and depth past the
// limit, and byte-level mutations of them). Each accepted document's
// rewrite is checked too (checkRewrite).
func TestScanAcceptsAgreesWithEncodingJSON(t *testing.T) {
	corpus := append([]string(nil), referenceMessages...)
	corpus = append(corpus, scanFuzzSeeds...)
	corpus = append(corpus, storedFuzzCorpus(t, "FuzzScanRewrite")...)
	corpus = append(corpus,
		`{}`, ` { "a" : [1, -2.5e3, true, false, null, "x\"y\u00e9"] , "b":{}} `,
		`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"k":[{"a":1},{"a":2}]}}`)
	for k := range scanRejectCases() {
		corpus = append(corpus, k)
	}
	r := rand.New(rand.NewPCG(14, 6455))
	for i := 0; i < 3000; i++ {
		doc := genObject(r, 1+r.IntN(5))
		corpus = append(corpus, doc, mutate(r, doc), mutate(r, mutate(r, doc)))
	}
	for d := maxDepth - 2; d <= maxDepth+2; d++ { // around the depth limit
		corpus = append(corpus, nest(d, "{", "}", `"a":`), "{"+`"b":`+nest(d-1, "[", "]", "")+"}")
	}
	accepted, rejected := 0, 0
	for _, in := range corpus {
		var env envelope
		err := scan([]byte(in), &env)
		if !checkScan(t, in, err) {
			continue
		}
		if err == nil {
			accepted++
			checkRewrite(t, in, &env)
		} else {
			rejected++
		}
	}
	t.Logf("%d documents: %d accepted, %d rejected, in agreement with encoding/json", len(corpus), accepted, rejected)
	// The corpus exercises both sides: a scanner that rejects everything, or
	// accepts everything, fails above; this guards the corpus itself.
	if accepted < len(corpus)/5 || rejected < len(corpus)/5 {
		t.Errorf("corpus of %d: %d accepted, %d rejected; want at least a fifth each", len(corpus), accepted, rejected)
	}
}

// TestScanDuplicateKeysByDecodedName: duplicate detection must compare keys
// as every JSON parser decodes them (Jackson's STRICT_DUPLICATE_DETECTION
// in the reference, encoding/json here). It caught decodeKey using
// strconv.Unquote, Go's string syntax, which rejects the JSON escapes \/
// and \uD83D\uDE00 and so kept "a\/" and "a/" apart.
func TestScanDuplicateKeysByDecodedName(t *testing.T) {
	for _, in := range []string{
		`{"a/":1,"a\/":2}`,
		`{"\ud83d\ude00":1,"\uD83D\uDE00":2}`,
		"{\"\\ud83d\\ude00\":1,\"\U0001F600\":2}",
		`{"x":{"\/":1,"/":2}}`,
	} {
		var env envelope
		checkScan(t, in, scan([]byte(in), &env))
	}
	// 17 keys spill into the map path; the same holds there.
	big := "{"
	for i := 0; i < 17; i++ {
		big += fmt.Sprintf(`"k%d":%d,`, i, i)
	}
	big += `"k\/":1,"k/":2}`
	var env envelope
	checkScan(t, big, scan([]byte(big), &env))
}

// TestScanDuplicateKeysOfAnyLength: keysSeen skips the pairwise compare
// for a key whose length (mod 64) no earlier plain key has; keys whose
// lengths agree mod 64, equal or not, long ones and escaped ones in
// between must still be told apart as encoding/json tells them.
func TestScanDuplicateKeysOfAnyLength(t *testing.T) {
	a1, a65, a129 := "a", strings.Repeat("a", 65), strings.Repeat("a", 129)
	b65 := strings.Repeat("a", 64) + "b"
	for _, keys := range [][]string{
		{a1, a65}, {a65, a1}, {a1, a65, a129}, {a65, b65}, {a65, a65}, {a1, a65, a1},
		{a65, b65, a129, a65}, {"to", "ab", "to"}, {"to", "ab", "t\\u006f"}, {"t\\u006f", "ab", "to"},
		{"t\\u006f", "to"}, {"ab", "t\\u006f", "cd", "to"}, {a65, "x\\/", a1, a65},
	} {
		in := "{"
		for i, k := range keys {
			if i > 0 {
				in += ","
			}
			in += fmt.Sprintf(`"%s":%d`, k, i)
		}
		in += "}"
		var env envelope
		checkScan(t, in, scan([]byte(in), &env))
		nested := `{"x":` + in + `,"y":[` + in + `]}`
		checkScan(t, nested, scan([]byte(nested), &env))
	}
}

// The contents of JSON strings that str accepts, decoded by decodeKey as
// encoding/json decodes them.
var unescapeCases = []string{
	``, `plain`, `\/`, `a\/b`, `\"`, `\\`, `\\/`, `\\\/`, `\b\f\n\r\t`, `\u0000`, `\u0041\u00e9\u20AC`,
	`\ud83d\ude00`, `\uD83D\uDE00`, `x\ud83d\ude00y`,
	`\ud800`, `\udfff`, `\udc00\ud800`, `x\ud83d`, `\ud83dx`, `\ud83d\n`, `\ud83d\/`, // lone surrogates
	`\ud83d\ud83d\ude00`, `\ud83d\u0041`, `\ud83d\uDBFF\uDFFF`, `\ude00\ude00`, `\ud83d\\ude00`,
	"é\\/\U0001F600\\u00e9", `\u002f\/`,
	strings.Repeat(`\ud83d\ude00\/`, 20), // longer than the stack buffer
}

func TestDecodeKeyAgreesWithEncodingJSON(t *testing.T) {
	check := func(raw string) {
		t.Helper()
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", raw, err)
		}
		if got := decodeKey([]byte(raw)); got != want {
			t.Errorf("decodeKey(%q) = %q, want %q", raw, got, want)
		}
		// The same string as encoding/json writes it is the same key.
		enc, _ := json.Marshal(want)
		other := enc[1 : len(enc)-1]
		if !keyEqual([]byte(raw), other) || !keyEqual(other, []byte(raw)) {
			t.Errorf("keyEqual(%q, %q) = false, want true", raw, other)
		}
	}
	for _, raw := range unescapeCases {
		check(raw)
	}
	// Random sequences of escapes, surrogates in particular.
	pieces := []string{`a`, `é`, "\U0001F600", `\/`, `\"`, `\\`, `\n`, `\u0041`, `\u00E9`,
		`\ud83d`, `\ude00`, `\uDBFF`, `\uDC00`, `\ud800`, `\uFFFD`, `\u`}
	r := rand.New(rand.NewPCG(8259, 7))
	for i := 0; i < 5000; i++ {
		var b strings.Builder
		for n := r.IntN(8); n >= 0; n-- {
			p := pieces[r.IntN(len(pieces))]
			if p == `\u` {
				p = fmt.Sprintf(`\u%04x`, r.IntN(0x10000))
			}
			b.WriteString(p)
		}
		check(b.String())
	}
	// Different strings stay different. (Lone surrogates do not: "\ud800"
	// and "\ud801" both decode to U+FFFD, for encoding/json too.)
	for _, p := range [][2]string{{`a\/`, `a`}, {`\ud83d\ude00`, `\ud83d`}, {`\ud800`, `\ud800\udc00`}, {`\u0041`, `a`}} {
		if keyEqual([]byte(p[0]), []byte(p[1])) {
			t.Errorf("keyEqual(%q, %q) = true, want false", p[0], p[1])
		}
	}
}

// scan allocates nothing for messages with up to 16 keys an object, and
// escaped keys of up to 64 bytes do not change that.
func TestScanZeroAllocs(t *testing.T) {
	for _, s := range []string{
		referenceMessages[3],
		`{"colibriClass":"EndpointMessage","to":"a1b2c3d4","msgPayload":{"k\/":1,"k/x":2,"\ud83d\ude00":3,"😀x":4}}`,
	} {
		msg := []byte(s)
		var env envelope
		if a := testing.AllocsPerRun(100, func() {
			if err := scan(msg, &env); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("scan(%q): %v allocations, want 0", msg, a)
		}
	}
}

func TestAppendWithFrom(t *testing.T) {
	from := "me"
	cases := []struct{ in, want string }{
		{`{}`, `{"from":"me"}`},
		{` {"to":""}`, `{"from":"me","to":""}`},
		{`{"from":"x"}`, `{"from":"me"}`},
		{`{"from":"x","to":"a"}`, `{"from":"me","to":"a"}`},
		{`{"to":"a", "from" : "x" }`, `{"from":"me","to":"a" }`},
		{`{"to":"a","from":{"nested":1},"z":[1]}`, `{"from":"me","to":"a","z":[1]}`},
		{`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"from":"inner"}}`,
			`{"from":"me","colibriClass":"EndpointMessage","to":"","msgPayload":{"from":"inner"}}`},
	}
	for _, c := range cases {
		var env envelope
		if err := scan([]byte(c.in), &env); err != nil {
			t.Fatalf("scan(%q): %v", c.in, err)
		}
		got := string(appendWithFrom(nil, []byte(c.in), &env, from))
		if got != c.want {
			t.Errorf("rewrite(%q) = %q, want %q", c.in, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("rewrite(%q) is not valid JSON: %q", c.in, got)
		}
	}
}

// scanFuzzSeeds seed FuzzScanRewrite and are part of the agreement corpus.
var scanFuzzSeeds = []string{`{}`, `{"from":"x","to":""}`, `{"a":[1,{"b":null}],"from":1}`, `{"to":"a","from":"b","c":"d"}`,
	`{"fr\u006fm":"spoof","to":""}`, `{"a":1,"\u0066rom":"spoof"}`,
	` {"from":"x" , "a" : 1 } `, `{"a":1,"from":"x"}`, `{"from":{"from":"x"},"to":[{"from":1}]}`,
	`{"a":1,"a":2}`, `[1]`, `"s"`, `1`, `{"a":"\ud800"}`, `{"a":"\/"}`}

// FuzzScanRewrite compares scan with encoding/json on every input (within
// the documented exceptions, see refScan) and checks the rewrite of every
// accepted one: it decodes, it has exactly one "from", and it has the
// input's other members verbatim.
func FuzzScanRewrite(f *testing.F) {
	for _, s := range scanFuzzSeeds {
		f.Add(s)
	}
	for _, s := range referenceMessages {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var env envelope
		err := scan([]byte(in), &env)
		if !checkScan(t, in, err) || err != nil {
			return
		}
		checkRewrite(t, in, &env)
	})
}

// referenceMessages are the example messages of reference/jvb-colibri-ws.md
// section 4.3, as the bridge serializes them and as lib-jitsi-meet sends
// them (two hold "{...}" placeholders: invalid JSON, to be rejected).
var referenceMessages = []string{
	`{"colibriClass":"ServerHello"}`,
	`{"colibriClass":"ServerHello","version":"2.3.123-gabcdef12"}`,
	`{"colibriClass":"EndpointMessage","to":"","from":"79f0273d","msgPayload":{"type":"e2e-ping-request","id":1}}`,
	`{"colibriClass":"EndpointStats","from":"79f0273d","bitrate":{"upload":812,"download":1540},"connectionQuality":100,"jvbRTT":23,"packetLoss":{"total":0,"upload":0,"download":0},"serverRegion":"eu-1"}`,
	`{"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":"79f0273d","previousSpeakers":["a1b2c3d4"],"silence":false}`,
	`{"colibriClass":"EndpointConnectivityStatusChangeEvent","endpoint":"a1b2c3d4","active":"false"}`,
	`{"colibriClass":"ForwardedSources","forwardedSources":["79f0273d-v0","a1b2c3d4-v0"]}`,
	`{"colibriClass":"SenderSourceConstraints", "sourceName":"79f0273d-v0", "maxHeight":360}`,
	`{"colibriClass":"ConnectionStats","estimatedDownlinkBandwidth":2488000}`,
	`{"colibriClass":"VideoSourcesMap","mappedSources":[{"source":"a1b2c3d4-v0","owner":"a1b2c3d4","ssrc":12345,"rtx":45678,"videoType":"CAMERA"}]}`,
	`{"colibriClass":"AudioSourcesMap","mappedSources":[{"source":"a1b2c3d4-a0","owner":"a1b2c3d4","ssrc":23456}]}`,
	`{"colibriClass":"AddReceiver","bridgeId":"jvb-eu-1","sourceName":"79f0273d-v0","videoConstraints":{"maxHeight":360,"maxFrameRate":-1.0}}`,
	`{"colibriClass":"SourceVideoTypeMessage","videoType":"DESKTOP","sourceName":"79f0273d-v0","endpointId":"79f0273d"}`,
	`{"colibriClass":"EndpointMessage","msgPayload":{"type":"...","...":"..."},"to":"a1b2c3d4"}`,
	`{"colibriClass":"EndpointStats","bitrate":{...},"connectionQuality":98.5,"jvbRTT":31,"maxEnabledResolution":720,"packetLoss":{...},"serverRegion":"eu-1"}`,
	`{"colibriClass":"LastNChangedEvent","lastN":20}`,
	`{"colibriClass":"ReceiverVideoConstraints","assumedBandwidthBps":-1,"lastN":20,"onStageSources":["a1b2c3d4-v0"],"defaultConstraints":{"maxHeight":180},"constraints":{"a1b2c3d4-v0":{"maxHeight":720}}}`,
	`{"colibriClass":"SourceVideoTypeMessage","sourceName":"79f0273d-v0","videoType":"camera"}`,
	`{"colibriClass":"ReceiverAudioSubscription","all":true,"exclude":[],"include":[]}`,
}

// storedFuzzCorpus returns the inputs under testdata/fuzz/<name> (the
// format go test -fuzz writes: a header line, then string("...")).
func storedFuzzCorpus(t *testing.T, name string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
	var out []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "string(") {
			t.Fatalf("%s: not a one-string corpus entry", f)
		}
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, v)
	}
	return out
}

// refScan is what scan must answer, from encoding/json: nil for a
// top-level object without duplicate keys (compared as encoding/json
// decodes them) at any depth, nested at most maxDepth deep; otherwise one
// of the returned errors (several when a document breaks several rules and
// either may be found first). Documented exceptions: input that is not
// UTF-8 (the frame reader validated it before scan; comparable is false),
// and a top-level scalar, which scan reports as ErrInvalidJSON.
func refScan(in []byte) (allowed []error, comparable bool) {
	if !utf8.Valid(in) {
		return nil, false
	}
	if !json.Valid(in) {
		return []error{routing.ErrInvalidJSON, routing.ErrNotObject, routing.ErrDuplicateKey, routing.ErrTooDeep}, true // any rejection
	}
	if c := bytes.TrimLeft(in, " \t\r\n"); c[0] != '{' {
		if c[0] == '[' || c[0] == '"' {
			return []error{routing.ErrNotObject, routing.ErrDuplicateKey, routing.ErrTooDeep}, true
		}
		return []error{routing.ErrInvalidJSON}, true
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	dup, depth := refWalk(dec, 1)
	if dup {
		allowed = append(allowed, routing.ErrDuplicateKey)
	}
	if depth > maxDepth {
		allowed = append(allowed, routing.ErrTooDeep)
	}
	return allowed, true
}

// refWalk reads one value from dec (nested at depth if a container) and
// reports whether an object in it repeats a key, and its deepest nesting.
func refWalk(dec *json.Decoder, depth int) (dup bool, deepest int) {
	tok, err := dec.Token()
	if err != nil {
		panic(err) // json.Valid held
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return false, depth - 1
	}
	deepest = depth
	seen := map[string]bool{}
	for dec.More() {
		if d == '{' {
			k, _ := dec.Token()
			if seen[k.(string)] {
				dup = true
			}
			seen[k.(string)] = true
		}
		dd, deep := refWalk(dec, depth+1)
		dup = dup || dd
		deepest = max(deepest, deep)
	}
	dec.Token() // the closing delimiter
	return dup, deepest
}

// checkScan fails t if scan's answer err for in disagrees with refScan,
// and reports whether the input was comparable.
func checkScan(t *testing.T, in string, err error) bool {
	t.Helper()
	allowed, ok := refScan([]byte(in))
	if !ok {
		if err == nil && !json.Valid([]byte(in)) {
			t.Errorf("scan accepted invalid JSON %q", in)
		}
		return false
	}
	if len(allowed) == 0 {
		if err != nil {
			t.Errorf("scan(%q) = %v; encoding/json accepts it: an object without duplicate keys, within the depth", in, err)
		}
		return true
	}
	for _, a := range allowed {
		if err == a {
			return true
		}
	}
	t.Errorf("scan(%q) = %v, want one of %v", in, err, allowed)
	return true
}

// checkRewrite checks the from rewrite of an accepted input: the output
// decodes, has no duplicate key, its "from" is the sender, and every other
// top-level member of the input is there with its value byte for byte.
func checkRewrite(t *testing.T, in string, env *envelope) {
	t.Helper()
	out := appendWithFrom(nil, []byte(in), env, "me")
	if allowed, _ := refScan(out); len(allowed) != 0 {
		t.Errorf("rewrite of %q = %q: not a JSON object without duplicate keys (%v)", in, out, allowed)
		return
	}
	var got, want map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Errorf("rewrite of %q = %q: %v", in, out, err)
		return
	}
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatalf("input %q: %v", in, err)
	}
	if string(got["from"]) != `"me"` {
		t.Errorf("rewrite of %q: from = %s, want \"me\"", in, got["from"])
	}
	delete(got, "from")
	delete(want, "from")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rewrite of %q = %q: members other than from differ from the input's", in, out)
	}
}

// genObject returns a random valid JSON object: nesting up to depth,
// strings with every JSON escape, numbers of every form, whitespace, and
// now and then a duplicate key or a "from" member, written plainly or with
// escapes.
func genObject(r *rand.Rand, depth int) string {
	var b strings.Builder
	genValue(r, &b, depth, true)
	return b.String()
}

var genKeys = []string{"from", "to", "colibriClass", "msgPayload", "a", "b", "endpointId", "fr\\u006fm", "\\u0066rom", "t\\u006f", "x\\ny", "\\u00e9", "é"}

func genValue(r *rand.Rand, b *strings.Builder, depth int, object bool) {
	ws := func() {
		if r.IntN(4) == 0 {
			b.WriteString([]string{" ", "\t", "\r\n", "  "}[r.IntN(4)])
		}
	}
	ws()
	switch k := r.IntN(8); {
	case object || (depth > 0 && k == 0):
		b.WriteByte('{')
		n := r.IntN(5)
		var used []string
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			key := genKeys[r.IntN(len(genKeys))]
			if r.IntN(3) == 0 {
				key = fmt.Sprintf("k%d", r.IntN(30))
			}
			if len(used) > 0 && r.IntN(12) == 0 {
				key = used[r.IntN(len(used))] // a duplicate
			}
			used = append(used, key)
			ws()
			b.WriteString(`"` + key + `"`)
			ws()
			b.WriteByte(':')
			genValue(r, b, depth-1, false)
		}
		ws()
		b.WriteByte('}')
	case depth > 0 && k == 1:
		b.WriteByte('[')
		n := r.IntN(4)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			genValue(r, b, depth-1, false)
		}
		b.WriteByte(']')
	case k <= 3:
		b.WriteString([]string{`""`, `"x"`, `"a\"b"`, `"\\\/\b\f\n\r\t"`, `"\u00e9\u2028"`, `"\ud83d\ude00"`, `"\ud800"`, `"é ü 😀"`}[r.IntN(8)])
	case k <= 5:
		b.WriteString([]string{"0", "-0", "1", "-12", "3.25", "1e9", "-2.5E-3", "10e+2", "123456789012345678901234567890"}[r.IntN(9)])
	default:
		b.WriteString([]string{"true", "false", "null"}[r.IntN(3)])
	}
	ws()
}

// mutate changes one byte of doc: deletes it, duplicates it, or replaces it
// with a byte that matters to JSON.
func mutate(r *rand.Rand, doc string) string {
	if doc == "" {
		return "{"
	}
	i := r.IntN(len(doc))
	const alphabet = `{}[]:,"\ 0-1.eE+tfnu` + "\x01\x7f"
	switch r.IntN(3) {
	case 0:
		return doc[:i] + doc[i+1:]
	case 1:
		return doc[:i] + doc[i:i+1] + doc[i:]
	default:
		return doc[:i] + string(alphabet[r.IntN(len(alphabet))]) + doc[i+1:]
	}
}

// nest returns d levels of open...close around a 1.
func nest(d int, open, close, key string) string {
	return strings.Repeat(open+key, d) + "1" + strings.Repeat(close, d)
}

// keyEqual is sameKey for two raw keys whose escapes are not known yet.
func keyEqual(a, b []byte) bool {
	return sameKey(a, bytes.IndexByte(a, '\\') >= 0, b, bytes.IndexByte(b, '\\') >= 0)
}
