package routing

import (
	"encoding/json"
	"testing"
)

func TestScanRejects(t *testing.T) {
	cases := map[string]error{
		``:                             ErrInvalidJSON,
		`[]`:                           ErrNotObject,
		`{"a":1,}`:                     ErrInvalidJSON,
		`{"a":1 "b":2}`:                ErrInvalidJSON,
		`{"a":01}`:                     ErrInvalidJSON,
		`{"a":"\x"}`:                   ErrInvalidJSON,
		"{\"a\":\"\x01\"}":             ErrInvalidJSON,
		`{"a":1}x`:                     ErrInvalidJSON,
		`{"to":"a","to":"b"}`:          ErrDuplicateKey,
		`{"x":{"y":1,"y":2}}`:          ErrDuplicateKey,
		`{"x":[{"y":1,"\u0079":2}]}`:   ErrDuplicateKey,
		`{"from":"a","fr\u006fm":"b"}`: ErrDuplicateKey,
		`{"a":tru}`:                    ErrInvalidJSON,
		`{"a":1.}`:                     ErrInvalidJSON,
		`{"a":-}`:                      ErrInvalidJSON,
	}
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
	if err := scan([]byte(deep), &env); err != ErrTooDeep {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestScanAcceptsAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, ` { "a" : [1, -2.5e3, true, false, null, "x\"y\u00e9"] , "b":{}} `,
		`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"k":[{"a":1},{"a":2}]}}`,
	} {
		var env envelope
		if err := scan([]byte(in), &env); err != nil {
			t.Errorf("scan(%q): %v", in, err)
		}
		if !json.Valid([]byte(in)) {
			t.Errorf("test case %q is not valid JSON", in)
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

func FuzzScanRewrite(f *testing.F) {
	for _, s := range []string{`{}`, `{"from":"x","to":""}`, `{"a":[1,{"b":null}],"from":1}`, `{"to":"a","from":"b","c":"d"}`,
		`{"fr\u006fm":"spoof","to":""}`, `{"a":1,"\u0066rom":"spoof"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var env envelope
		err := scan([]byte(in), &env)
		valid := json.Valid([]byte(in))
		if err == nil && !valid {
			t.Fatalf("scan accepted invalid JSON %q", in)
		}
		if err != nil {
			return
		}
		out := appendWithFrom(nil, []byte(in), &env, "me")
		var m map[string]any
		if e := json.Unmarshal(out, &m); e != nil {
			t.Fatalf("rewrite of %q gave invalid JSON %q: %v", in, out, e)
		}
		if m["from"] != "me" {
			t.Fatalf("rewrite of %q: from = %v", in, m["from"])
		}
	})
}
