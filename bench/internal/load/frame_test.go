package load

import (
	"strings"
	"testing"
)

func TestTemplateStampRoundTrip(t *testing.T) {
	for _, class := range []string{"EndpointMessage", "EndpointStats"} {
		msg, tOff, sOff := buildMessage(class, "peer", 42, 200)
		if len(msg) != 200 {
			t.Fatalf("%s: message is %d bytes, want 200", class, len(msg))
		}
		tp := newTemplate(msg, tOff, sOff, [4]byte{1, 2, 3, 4})
		f := tp.appendStamped(nil, 1764200000123456789, 7)
		h, ok := parseHeader(f)
		if !ok || !h.masked || h.op != 1 || h.payLen != 200 || h.hdrLen+h.payLen != len(f) {
			t.Fatalf("%s: bad header %+v", class, h)
		}
		p := f[h.hdrLen:]
		for i := range p {
			p[i] ^= h.mask[i&3]
		}
		if !strings.Contains(string(p), `"colibriClass":"`+class+`"`) {
			t.Fatalf("payload %s", p)
		}
		st, ok := scanStamp(p)
		if !ok || st.t != 1764200000123456789 || st.s != 7 || st.i != 42 {
			t.Fatalf("%s: scanned %+v ok=%v from %s", class, st, ok, p)
		}
	}
}

func TestScanAfterFromRewrite(t *testing.T) {
	p := []byte(`{"from":"0001abcd","colibriClass":"EndpointMessage","to":"","msgPayload":{"~t":17 ,"~s":3  ,"~i":5,"p":"xx"}}`)
	st, ok := scanStamp(p)
	f, fok := scanFrom(p)
	if !ok || st.t != 17 || st.s != 3 || st.i != 5 || !fok || string(f) != "0001abcd" {
		t.Fatalf("got %+v %v %s %v", st, ok, f, fok)
	}
}
