package interop

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

// seedDoc reads the seed document from shared/ beside the repository (where
// CI lays it), or its copy in config/testdata.
func seedDoc(t *testing.T) string {
	t.Helper()
	root := testbridge.RepoRoot(t)
	for _, p := range []string{
		filepath.Join(root, "..", "shared", "seed", "web-sockets.zh.md"),
		filepath.Join(root, "config", "testdata", "web-sockets.zh.md"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return string(b)
		}
	}
	t.Fatal("the seed document (shared/seed/web-sockets.zh.md) is missing")
	return ""
}

// TestNginxTemplateIsTheSeed: interop/nginx/colibri.conf.tmpl rendered with
// its default ports (9090, 9091) contains every nginx block of the seed
// verbatim, and nothing else; with other ports only the upstream ports change.
func TestNginxTemplateIsTheSeed(t *testing.T) {
	seed := seedDoc(t)
	var blocks []string
	for _, m := range regexp.MustCompile("(?ms)^```\n(.*?)^```$").FindAllStringSubmatch(seed, -1) {
		if strings.Contains(m[1], "location ~ ^/colibri") {
			blocks = append(blocks, strings.TrimRight(m[1], "\n"))
		}
	}
	if len(blocks) != 2 {
		t.Fatalf("found %d nginx blocks in the seed, want 2 (colibri-ws, colibri-relay-ws)", len(blocks))
	}
	def, err := ColibriLocations(NginxParams{})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(blocks, "\n") + "\n"; def != want {
		t.Errorf("template with default ports differs from the seed:\n--- template\n%s\n--- seed\n%s", def, want)
	}
	for _, loc := range []string{"/colibri-ws/jvb1/", "/colibri-ws/jvb2/", "/colibri-relay-ws/jvb1/", "/colibri-relay-ws/jvb2/"} {
		if !strings.Contains(def, "location ~ ^"+loc+"(.*) {") {
			t.Errorf("no location for %s", loc)
		}
	}

	other, err := ColibriLocations(NginxParams{JVB1Port: 40001, JVB2Port: 40002})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.NewReplacer(":40001/", ":9090/", ":40002/", ":9091/").Replace(other); got != def {
		t.Errorf("with other ports more than the ports changed:\n%s", other)
	}
	if strings.Count(other, "127.0.0.1:40001/") != 2 || strings.Count(other, "127.0.0.1:40002/") != 2 {
		t.Errorf("ports not substituted:\n%s", other)
	}
}

// TestNginxTwoBridges runs the seed's deployment: jvb1 and jvb2 behind one
// nginx. Each bridge's advertised URL reaches that bridge; the server-id in
// the path picks the bridge; other paths get nginx's 404; a plain GET gets
// the bridge's 405.
func TestNginxTwoBridges(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{TwoBridges: true})
	c := StartNodeWS(t)
	conf1 := d.JVB1.CreateConference("two-1", "a", "b")
	conf2 := d.JVB2.CreateConference("two-2", "a", "b")
	checkAdvertised(t, conf1, d.Nginx, "jvb1")
	checkAdvertised(t, conf2, d.Nginx, "jvb2")

	mark1, mark2 := d.JVB1.LogMark(), d.JVB2.LogMark()
	for _, conf := range []*Conference{conf1, conf2} {
		for _, id := range []string{"a", "b"} {
			connectHello(t, c, conf.Socket(id), conf.URLs[id], true)
		}
	}
	d.JVB1.WaitLog(mark1, "websocket connected", "conf="+conf1.ID, "id=b")
	d.JVB2.WaitLog(mark2, "websocket connected", "conf="+conf2.ID, "id=b")
	for _, l := range d.JVB1.LogLines(mark1) {
		if strings.Contains(l, conf2.ID) {
			t.Errorf("jvb1 saw jvb2's conference: %s", l)
		}
	}
	// messages stay within each bridge's conference
	c.SendText(conf1.Socket("a"), endpointMessage("", `{"bridge":1}`))
	c.SendText(conf2.Socket("a"), endpointMessage("", `{"bridge":2}`))
	checkEndpointMessage(t, c.WaitMessage(conf1.Socket("b"), "EndpointMessage"), "a", "", `{"bridge":1}`)
	checkEndpointMessage(t, c.WaitMessage(conf2.Socket("b"), "EndpointMessage"), "a", "", `{"bridge":2}`)

	// jvb1's URL with jvb2's server-id goes to jvb2, which does not know the
	// conference: 403
	wrong := strings.Replace(conf1.URLs["a"], "/colibri-ws/jvb1/", "/colibri-ws/jvb2/", 1)
	c.Connect("wrong", wrong, false)
	if e := c.Wait("wrong", func(e Event) bool { return e.Ev == "error" || e.Ev == "open" }, eventTimeout); e.Code != 403 {
		t.Errorf("jvb1's conference on jvb2: %s, want 403", e.Raw)
	}
	d.JVB2.WaitLog(mark2, "websocket authentication failed", "conf="+conf1.ID)

	// paths the seed does not route: nginx's own 404
	for _, p := range []string{"/colibri-ws/jvb3/" + conf1.ID + "/a?pwd=x", "/colibri-ws/", "/", "/colibri/v2/conferences"} {
		if status := httpStatus(t, "http://"+d.Nginx.Addr+p, true); status != 404 {
			t.Errorf("GET %s through nginx: %d, want 404", p, status)
		}
	}
	// a plain GET of a colibri-ws URL reaches the bridge, which answers 405
	if status := httpStatus(t, conf1.URLs["a"], false); status != 405 {
		t.Errorf("plain GET %s through nginx: %d, want 405 from the bridge", conf1.URLs["a"], status)
	}

	c.Exit()
	waitAccessLog(t, d.Nginx, "/colibri-ws/jvb1/", 101, 2)
	waitAccessLog(t, d.Nginx, "/colibri-ws/jvb2/", 101, 2)
}

// httpStatus sends GET u (as a WebSocket upgrade if upgrade) and returns
// the status code.
func httpStatus(t *testing.T, u string, upgrade bool) int {
	t.Helper()
	u = strings.Replace(u, "ws://", "http://", 1)
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	client := http.Client{Timeout: eventTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode
}
