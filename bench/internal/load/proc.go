package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// workerEnv carries a worker's configuration from the parent.
const workerEnv = "COLIBRI_LOADGEN_WORKER"

// workerSpec is the parent's instruction to one worker process.
type workerSpec struct {
	Cfg    Config
	Worker int
	N      int
}

// procPart is a worker process driven over its stdin/stdout with
// single-line commands: READY, GO <unixnano>, RESULT <json>, CLOSE.
type procPart struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// spawn re-executes this binary as worker i of cfg.Procs.
func spawn(cfg Config, i int) (*procPart, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec, err := json.Marshal(workerSpec{Cfg: cfg, Worker: i, N: cfg.Procs})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &procPart{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

// expect reads lines until one starts with word and returns the rest.
func (p *procPart) expect(word string) (string, error) {
	for {
		line, err := p.out.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("worker: waiting for %s: %w", word, err)
		}
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, word); ok {
			return strings.TrimSpace(rest), nil
		}
		if rest, ok := strings.CutPrefix(line, "ERROR"); ok {
			return "", errors.New("worker:" + rest)
		}
	}
}

func (p *procPart) setup() (time.Duration, error) {
	s, err := p.expect("READY")
	if err != nil {
		return 0, err
	}
	ns, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(ns), nil
}

func (p *procPart) run(start time.Time) (*Result, error) {
	if _, err := fmt.Fprintf(p.in, "GO %d\n", start.UnixNano()); err != nil {
		return nil, err
	}
	s, err := p.expect("RESULT")
	if err != nil {
		return nil, err
	}
	var r Result
	return &r, json.Unmarshal([]byte(s), &r)
}

func (p *procPart) close() error {
	fmt.Fprintln(p.in, "CLOSE")
	p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		return <-done
	}
}

// IsWorker reports whether this process was started as a worker.
func IsWorker() bool { return os.Getenv(workerEnv) != "" }

// WorkerMain runs this process as a worker and returns its exit code.
// Protocol lines go to stdout; progress and errors to stderr.
func WorkerMain() int {
	var spec workerSpec
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &spec); err != nil {
		fmt.Printf("ERROR %v\n", err)
		return 2
	}
	cfg := spec.Cfg
	cfg.worker, cfg.nproc = spec.Worker, spec.N
	w := newWorker(cfg, os.Stderr)
	d, err := w.setup()
	if err != nil {
		fmt.Printf("ERROR %v\n", err)
		w.close()
		return 1
	}
	fmt.Printf("READY %d\n", d.Nanoseconds())
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			w.close()
			return 0
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "GO":
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			b, _ := json.Marshal(w.run(time.Unix(0, ns)))
			fmt.Printf("RESULT %s\n", b)
		case "CLOSE":
			w.close()
			return 0
		}
	}
}
