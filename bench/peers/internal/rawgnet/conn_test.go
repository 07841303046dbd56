package rawgnet

import (
	"encoding/json"
	"testing"
)

// TestWithFrom: the rewritten message is the bridge's shape, "from" first
// and every other byte as sent, and valid JSON for objects with and
// without members.
func TestWithFrom(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{"from":"ep1"}`},
		{`{"colibriClass":"EndpointMessage","to":""}`, `{"from":"ep1","colibriClass":"EndpointMessage","to":""}`},
	}
	ls := &loopState{}
	for _, tt := range tests {
		got := string(withFrom(ls, []byte(tt.in), "ep1"))
		if got != tt.want {
			t.Errorf("withFrom(%s) = %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("withFrom(%s) = %s: not JSON", tt.in, got)
		}
	}
}
