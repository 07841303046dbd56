package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bundle holds BridgeChannel and every module it requires, resolved,
// with statistics stubbed.
func TestBundle(t *testing.T) {
	if _, err := os.Stat(filepath.Join(deps, bridgeChannelEntry)); err != nil {
		t.Fatalf("%v: run scripts/install-deps.sh (the test command does)", err)
	}
	b, err := bundle(deps)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, want := range []string{
		`defs["lib-jitsi-meet/dist/modules/RTC/BridgeChannel.js"]`,
		`defs["lib-jitsi-meet/dist/service/RTC/RTCEvents.js"]`,
		`defs["node_modules/@jitsi/logger/lib/index.js"]`,
		`defs["node_modules/@jitsi/logger/lib/Logger.js"]`,
		`"../statistics/statistics":"lib-jitsi-meet/dist/modules/statistics/statistics.js"`,
		`sendAnalytics() {}`,
		`window.BridgeChannel = load(`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("the bundle lacks %s", want)
		}
	}
	if strings.Contains(js, "CallStats") {
		t.Error("the bundle pulled in lib-jitsi-meet's statistics code")
	}
	if _, err := bundle(t.TempDir()); err == nil {
		t.Error("bundle of an empty directory: no error")
	}
}
