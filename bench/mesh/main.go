// Command mesh is bench scenario S7: one conference spread evenly over N
// bridge processes linked in a full relay mesh, driven by several
// generator processes (one process holds at most 20,000 descriptors).
// Random senders broadcast at fixed rates; every process derives the same
// schedule from the seed, so each receiver checks that it got every
// broadcast of the step exactly once, with the right "from". The run
// fails, and reports no figures, unless deliveries equal messages sent
// times receivers.
//
// It starts the bridges itself (on their defaults except ports and ids),
// places the conference and wires the mesh with colibri2/client, and
// reports the connect time and rate, deliveries/s, one-way latency (local
// and across a relay) and its split among the sending bridge, the relay
// and the receiving bridge, RSS per endpoint on each bridge, each relay
// link's message rate and the CPU of every process. Progress goes to
// stderr.
//
//	go run ./bench/mesh -bridges 4 -endpoints 15000 -rates 1,2,4
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/hist"
	"github.com/colibri-bus/colibri/bench/internal/procstat"
	"github.com/colibri-bus/colibri/colibri2/client"
)

const genEnv = "COLIBRI_MESH_GENERATOR"

type options struct {
	bin                  string
	bridges, perBridge   int
	procs                int
	rates                []float64
	duration             time.Duration
	seed                 uint64
	basePublic, baseREST int
	dials                int
	out, svg             string
}

func main() {
	if os.Getenv(genEnv) != "" {
		if err := runGenerator(); err != nil {
			fmt.Fprintln(os.Stderr, "mesh:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var rates string
	flag.StringVar(&o.bin, "bin", "", "bridge binary (default: go build ./cmd/bridge)")
	flag.IntVar(&o.bridges, "bridges", 4, "bridge processes in the mesh")
	flag.IntVar(&o.perBridge, "endpoints", 500, "endpoints per bridge (the conference has bridges x endpoints)")
	flag.IntVar(&o.procs, "procs", 0, "generator processes (0: one per bridge)")
	flag.StringVar(&rates, "rates", "2,5", "offered broadcasts per second, one step each, comma separated")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each step")
	flag.Uint64Var(&o.seed, "seed", 1, "schedule seed")
	flag.IntVar(&o.basePublic, "public-port", 29390, "first bridge's WebSocket port (the others follow)")
	flag.IntVar(&o.baseREST, "rest-port", 28390, "first bridge's REST port (the others follow)")
	flag.IntVar(&o.dials, "dials", 64, "parallel dials per generator")
	flag.StringVar(&o.out, "out", "", "write the JSON result here")
	flag.StringVar(&o.svg, "svg", "", "write the latency-against-rate chart here")
	flag.Parse()
	for _, f := range strings.Split(rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			fmt.Fprintf(os.Stderr, "mesh: -rates: %q is not a positive number\n", f)
			os.Exit(2)
		}
		o.rates = append(o.rates, r)
	}
	if o.procs <= 0 {
		o.procs = o.bridges
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mesh:", err)
		os.Exit(1)
	}
	if o.out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		os.WriteFile(o.out, b, 0o644)
	}
	if o.svg != "" {
		if err := os.WriteFile(o.svg, []byte(chart(res)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "mesh:", err)
		}
	}
	if !res.Exact {
		os.Exit(1)
	}
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "mesh: "+format+"\n", a...)
}

// genProc is a generator child process.
type genProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func (g *genProc) line(prefix string) (string, error) {
	l, err := g.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("generator died: %w", err)
	}
	if !strings.HasPrefix(l, prefix+" ") {
		return "", fmt.Errorf("generator said %q, want %s", l, prefix)
	}
	return strings.TrimSpace(strings.TrimPrefix(l, prefix+" ")), nil
}

func run(o options) (*result, error) {
	total := o.bridges * o.perBridge
	dir, err := os.MkdirTemp("", "colibri-mesh-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if o.bin == "" {
		o.bin = filepath.Join(dir, "bridge")
		progress("building ./cmd/bridge")
		if out, err := exec.Command("go", "build", "-o", o.bin, "github.com/colibri-bus/colibri/cmd/bridge").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build: %v: %s", err, out)
		}
	}
	bs, err := startBridges(o.bin, dir, o.bridges, o.basePublic, o.baseREST)
	defer stopBridges(bs)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		b.idleRSS, _ = procstat.RSS(b.cmd.Process.Pid)
	}
	progress("%d bridges up; placing one conference of %d endpoints (%d per bridge)", o.bridges, total, o.perBridge)

	// The controller's job: place the conference and wire the mesh.
	spec := make([]client.Bridge, o.bridges)
	for i, b := range bs {
		spec[i] = client.Bridge{Client: client.New(b.restAddr(), nil), RelayID: b.name}
		for k := 0; k < o.perBridge; k++ {
			spec[i].Endpoints = append(spec[i].Endpoints, endpointID(i*o.perBridge+k, o.perBridge))
		}
	}
	const meeting = "s7"
	t := time.Now()
	p, err := client.PlaceMesh(context.Background(), meeting, spec, client.MeshOptions{Name: "s7@bench"})
	if err != nil {
		return nil, err
	}
	r := &result{Bridges: o.bridges, Endpoints: total, Procs: o.procs, Seed: o.seed, PlaceSeconds: time.Since(t).Seconds()}
	progress("placed in %.1fs; waiting for %d relay links", r.PlaceSeconds, o.bridges*(o.bridges-1)/2)
	if err := waitRelays(bs, meeting, 30*time.Second); err != nil {
		return nil, err
	}

	// The generators: contiguous ranges of the global endpoint order.
	var gens []*genProc
	defer func() {
		for _, g := range gens {
			g.in.Close()
			g.cmd.Wait()
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	t = time.Now()
	for k := 0; k < o.procs; k++ {
		lo, hi := k*total/o.procs, (k+1)*total/o.procs
		gs := genSpec{Index: k, PerBridge: o.perBridge, Total: total, Lo: lo, Hi: hi, Dials: o.dials}
		for g := lo; g < hi; g++ {
			gs.URLs = append(gs.URLs, p.URLs[endpointID(g, o.perBridge)])
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), genEnv+"=1")
		cmd.Stderr = os.Stderr
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		g := &genProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
		gens = append(gens, g)
		b, _ := json.Marshal(gs)
		if _, err := in.Write(append(b, '\n')); err != nil {
			return nil, err
		}
	}
	for k, g := range gens {
		if _, err := g.line("READY"); err != nil {
			return nil, fmt.Errorf("generator %d: %w", k, err)
		}
	}
	r.ConnectSeconds = time.Since(t).Seconds()
	r.ConnectRate = float64(total) / r.ConnectSeconds
	progress("connected %d endpoints in %.1fs (%.0f/s)", total, r.ConnectSeconds, r.ConnectRate)
	for _, b := range bs {
		rss, _ := procstat.RSS(b.cmd.Process.Pid)
		r.BridgeRSS = append(r.BridgeRSS, bridgeRSS{Name: b.name, IdleMB: mb(b.idleRSS), ConnectedMB: mb(rss),
			BytesPerEndpoint: float64(rss-b.idleRSS) / float64(o.perBridge)})
	}

	for _, rate := range o.rates {
		st, err := runStep(o, bs, gens, meeting, rate)
		if err != nil {
			return nil, err
		}
		r.Steps = append(r.Steps, *st)
	}
	r.Exact = true
	for _, st := range r.Steps {
		r.Exact = r.Exact && st.Exact
	}
	report(os.Stdout, r)
	return r, nil
}

func waitRelays(bs []*bridgeProc, meeting string, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for _, b := range bs {
		for _, other := range bs {
			if other == b {
				continue
			}
			for {
				up, _, err := relayState(b, meeting, other.name)
				if up {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s: relay to %s not connected (%v)", b.name, other.name, err)
				}
				time.Sleep(20 * time.Millisecond) // poll interval
			}
		}
	}
	return nil
}

// runStep offers rate broadcasts/s for o.duration and gathers the results.
func runStep(o options, bs []*bridgeProc, gens []*genProc, meeting string, rate float64) (*step, error) {
	count := int(rate * o.duration.Seconds())
	if count < 1 {
		count = 1
	}
	progress("step: %g broadcasts/s for %v (%d broadcasts, %d deliveries expected)", rate, o.duration, count, count*(o.bridges*o.perBridge-1))
	links := map[[2]int]uint64{}
	for i, b := range bs {
		for j, other := range bs {
			if i != j {
				_, sent, _ := relayState(b, meeting, other.name)
				links[[2]int{i, j}] = sent
			}
		}
	}
	var pids []int
	for _, b := range bs {
		pids = append(pids, b.cmd.Process.Pid)
	}
	for _, g := range gens {
		pids = append(pids, g.cmd.Process.Pid)
	}
	pids = append(pids, os.Getpid())
	cpu0, wait0, box0 := cpuTimes(pids), runDelays(pids), boxCPU()
	w0 := time.Now()
	st := &step{Rate: rate, Broadcasts: count, PerBridge: make([]tally, o.bridges)}
	t0 := time.Now().Add(500 * time.Millisecond).UnixNano()
	for _, g := range gens {
		fmt.Fprintf(g.in, "RUN %g %d %d %d\n", rate, t0, count, o.seed)
	}
	var local, relay hist.Histogram
	at := make([]span, count*o.bridges)
	for k, g := range gens {
		l, err := g.line("RESULT")
		if err != nil {
			return nil, fmt.Errorf("generator %d: %w", k, err)
		}
		var gr genResult
		if err := json.Unmarshal([]byte(l), &gr); err != nil {
			return nil, err
		}
		if len(gr.Arrivals) != len(at) {
			return nil, fmt.Errorf("generator %d: %d arrival spans, want %d", k, len(gr.Arrivals), len(at))
		}
		st.add(gr)
		local.AddSnapshot(gr.Local)
		relay.AddSnapshot(gr.Relay)
		for j, a := range gr.Arrivals {
			at[j].widen(a)
		}
	}
	wall := time.Since(w0)
	cpu1, wait1, box1 := cpuTimes(pids), runDelays(pids), boxCPU()
	if d := box1.total - box0.total; d > 0 {
		st.BoxBusyPercent = 100 * float64(box1.busy-box0.busy) / float64(d)
	}
	window := o.duration.Seconds()
	st.Exact = st.Sent == uint64(count) && st.Delivered == st.Expected &&
		st.Expected == uint64(count)*uint64(o.bridges*o.perBridge-1) && st.Lost == 0 && st.Duplicated == 0 && st.BadFrom == 0
	st.DeliveriesPerSec = float64(st.Delivered) / window
	st.LocalP50, st.LocalP99 = ms(local.Quantile(0.5)), ms(local.Quantile(0.99))
	st.RelayP50, st.RelayP99 = ms(relay.Quantile(0.5)), ms(relay.Quantile(0.99))
	st.LocalN, st.RelayN = local.Count(), relay.Count()
	st.Split = stepSplit(o, rate, t0, count, at)
	for i, b := range bs {
		for j, other := range bs {
			if i != j {
				_, sent, _ := relayState(b, meeting, other.name)
				st.Links = append(st.Links, link{From: b.name, To: other.name, PerSec: float64(sent-links[[2]int{i, j}]) / window})
			}
		}
	}
	for k := range pids {
		name := "parent"
		switch {
		case k < len(bs):
			name = bs[k].name
		case k < len(bs)+len(gens):
			name = fmt.Sprintf("generator %d", k-len(bs))
		}
		st.CPU = append(st.CPU, procCPU{Name: name, Percent: 100 * (cpu1[k] - cpu0[k]).Seconds() / wall.Seconds(),
			WaitedPercent: 100 * (wait1[k] - wait0[k]).Seconds() / wall.Seconds()})
	}
	progress("step %g/s: delivered %d of %d (lost %d, duplicated %d)", rate, st.Delivered, st.Expected, st.Lost, st.Duplicated)
	return st, nil
}

// stepSplit is the latency split of the step of count broadcasts at rate
// from t0, given their spans on each bridge (widened over the generators).
func stepSplit(o options, rate float64, t0 int64, count int, at []span) split {
	s := newSchedule(o.seed, rate, count, o.bridges*o.perBridge, t0)
	sent, from := make([]int64, count), make([]int, count)
	for i, snd := range s.sender {
		sent[i], from[i] = s.at(i), snd/o.perBridge
	}
	return splitOf(sent, from, o.bridges, at)
}

// add counts one generator's account of the step into st, whose
// PerBridge has a tally for every bridge.
func (st *step) add(gr genResult) {
	st.Sent += gr.Sent
	st.Delivered += gr.Delivered
	st.Expected += gr.Expected
	st.Lost += gr.Lost
	st.Duplicated += gr.Duplicated
	st.BadFrom += gr.BadFrom
	st.Other += gr.Other
	st.Unknown += gr.Unknown
	st.SendLagMaxMs = max(st.SendLagMaxMs, ms(gr.SendLagMaxNs))
	for b, t := range gr.PerBridge {
		st.PerBridge[b].Delivered += t.Delivered
		st.PerBridge[b].Expected += t.Expected
		st.PerBridge[b].Lost += t.Lost
		st.PerBridge[b].Duplicated += t.Duplicated
	}
}

func cpuTimes(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, p := range pids {
		out[i], _ = procstat.CPUTime(p)
	}
	return out
}

// jiffies are the machine's CPU counters from /proc/stat.
type jiffies struct{ busy, total uint64 }

// boxCPU reads the "cpu" line of /proc/stat: busy is everything but idle
// and iowait, over all CPUs.
func boxCPU() jiffies {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return jiffies{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var j jiffies
	for k, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		j.total += n
		if k != 3 && k != 4 { // idle, iowait
			j.busy += n
		}
	}
	return j
}

// runDelays is each process's time spent runnable but waiting for a CPU.
func runDelays(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, p := range pids {
		out[i], _ = procstat.RunDelay(p)
	}
	return out
}

func mb(b int64) float64  { return float64(b) / (1 << 20) }
func ms(ns int64) float64 { return float64(ns) / 1e6 }
