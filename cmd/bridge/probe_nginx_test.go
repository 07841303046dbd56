package main

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// nginxServers is one nginx server block per deployment mistake, each on its
// own port, all in front of one bridge with server-id jvb1.
const nginxServers = `
    # The seed's location, right.
    server {
        listen 127.0.0.1:{{GOOD}};
        location ~ ^/colibri-ws/jvb1/(.*) {
            proxy_pass http://{{BRIDGE}}/colibri-ws/jvb1/$1$is_args$args;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            tcp_nodelay on;
        }
        location / { return 404; }
    }
    # No proxy_http_version and no Upgrade headers: nginx sends HTTP/1.0
    # without Upgrade and Connection.
    server {
        listen 127.0.0.1:{{HTTP10}};
        location ~ ^/colibri-ws/jvb1/(.*) {
            proxy_pass http://{{BRIDGE}}/colibri-ws/jvb1/$1$is_args$args;
        }
    }
    # HTTP/1.1 but the Upgrade headers are not passed on.
    server {
        listen 127.0.0.1:{{NOUPGRADE}};
        location ~ ^/colibri-ws/jvb1/(.*) {
            proxy_pass http://{{BRIDGE}}/colibri-ws/jvb1/$1$is_args$args;
            proxy_http_version 1.1;
        }
    }
    # A location for another server-id only: jvb1 falls through to the web app.
    server {
        listen 127.0.0.1:{{MISSING}};
        location ~ ^/colibri-ws/jvb2/(.*) {
            proxy_pass http://{{BRIDGE}}/colibri-ws/jvb2/$1$is_args$args;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        location / {
            default_type text/html;
            return 200 "<!DOCTYPE html><html><head><title>Jitsi Meet</title></head><body>app</body></html>";
        }
    }
    # The proxy cannot reach the bridge.
    server {
        listen 127.0.0.1:{{DOWN}};
        location ~ ^/colibri-ws/ {
            proxy_pass http://{{CLOSED}};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
    }
`

// TestProbeThroughNginx runs Debian's nginx with a deliberately broken
// configuration in front of a bridge and requires the probe to name each
// mistake.
func TestProbeThroughNginx(t *testing.T) {
	tb := startBridge(t, func(c *config.Config) { c.WebSockets.ServerID = "jvb1" })
	u := tb.endpointURL(t, "m1", "ep1") // ws://127.0.0.1:PORT/colibri-ws/jvb1/...
	ports := startNginx(t, nginxServers, map[string]string{
		"BRIDGE": tb.b.PublicAddr(),
		"CLOSED": closedPort(t),
	}, "GOOD", "HTTP10", "NOUPGRADE", "MISSING", "DOWN")
	via := func(name string) string {
		p, _ := url.Parse(u)
		p.Host = "127.0.0.1:" + ports[name]
		return p.String()
	}
	expect(t, probeOK, []string{"101 Switching Protocols", "Server: nginx", `{"colibriClass":"ServerHello"}`},
		"--listen", "100ms", via("GOOD"))
	expect(t, probeNoUpgrade, []string{"upgrade-lost", "HTTP version", "proxy_set_header Upgrade"}, via("HTTP10"))
	expect(t, probeNoUpgrade, []string{"upgrade-lost", "Upgrade", "proxy_http_version 1.1"}, via("NOUPGRADE"))
	expect(t, probeMisrouted, []string{"proxy-misrouted", "HTML", "/colibri-ws/jvb1/"}, via("MISSING"))
	expect(t, probeHTTP, []string{"http-502", "cannot reach the bridge"}, via("DOWN"))
	// A stale URL through a right proxy is still the bridge's 403.
	stale := strings.Replace(via("GOOD"), "pwd=", "pwd=0", 1)
	expect(t, probeForbidden, []string{"403"}, stale)
}

// startNginx writes nginx.conf into a temporary directory (pid, logs and
// temp files there), with servers after replacing {{NAME}} by vars and by a
// free loopback port for each name in portNames, runs nginx in the
// foreground as one process and stops it when the test ends. It returns the
// ports.
func startNginx(t *testing.T, servers string, vars map[string]string, portNames ...string) map[string]string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("nginx is not installed: run scripts/install-deps.sh")
		}
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // workers may run as nobody
		t.Fatal(err)
	}
	ports := map[string]string{}
	for _, n := range portNames {
		ports[n] = strings.TrimPrefix(closedPort(t), "127.0.0.1:")
		vars[n] = ports[n]
	}
	for k, v := range vars {
		servers = strings.ReplaceAll(servers, "{{"+k+"}}", v)
	}
	conf := "daemon off;\nmaster_process off;\nworker_processes 1;\n" +
		"pid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log info;\n" +
		"events { worker_connections 64; }\nhttp {\n" +
		"    access_log " + dir + "/access.log;\n" +
		"    client_body_temp_path " + dir + "/body; proxy_temp_path " + dir + "/proxy;\n" +
		"    fastcgi_temp_path " + dir + "/fastcgi; uwsgi_temp_path " + dir + "/uwsgi; scgi_temp_path " + dir + "/scgi;\n" +
		servers + "}\n"
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	proc := testbridge.StartProcess(t, "nginx", cmd, nil)
	deadline := time.Now().Add(wait)
	for _, n := range portNames {
		if err := proc.WaitAccepting("127.0.0.1:"+ports[n], time.Until(deadline)); err != nil {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx: %v:\n%s", err, logs)
		}
	}
	t.Logf("nginx %s: %s", strings.Join(portNames, ", "), strconv.Quote(dir))
	return ports
}

// closedPort returns a loopback address where nothing listens, for a
// server the test starts next (testbridge.FreePorts: below the kernel's
// ephemeral range, checked free by listening once).
func closedPort(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(testbridge.FreePorts(t, 1)[0])
}
