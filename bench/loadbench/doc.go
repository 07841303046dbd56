// Package loadbench holds the load scenarios as go test benchmarks, one
// file per scenario:
//
//	cd bench && go test -run '^$' -bench . -count 10 ./loadbench | benchstat -
//
// Each benchmark starts the real bridge in the test's process on its
// defaults (config.Default with loopback listeners on ports the kernel
// chooses, never a limit changed), drives it with the load generator
// (bench/internal/load, the code behind bench/loadgen and bench/run.sh)
// and fails, reporting no rate, unless the run was complete: every
// message reached every receiver exactly once, with the sender's from, no
// connection failed, was lost or was closed. b.N counts messages per
// sender (a broadcast round of every sender) or, for churn, cycles;
// conference creation and connection setup are outside the timer.
//
// Besides ns/op each reports deliveries/s, p50-ms and p99-ms (latency
// from a message's send to its receipt, in closed loop: queueing
// included) and B/conn (see the harness, measure). The package has no
// code of its own outside its tests.
package loadbench
