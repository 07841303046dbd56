package testbridge

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// restClient sends the harness's REST requests: bounded by Wait, and
// redirects are answers, not followed.
var restClient = &http.Client{
	Timeout:       Wait,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do sends method base+path with body and header (name, value pairs) and
// returns the response with its body read and closed. It fails the test
// if there is no response.
func Do(t testing.TB, base, method, path, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := restClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, raw
}
