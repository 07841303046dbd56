// Package testbridge is the test harness shared by the module's tests: it
// starts a bridge in the test's process (Start) or as a child process
// (Binary, StartProcess), and holds the WebSocket test client (Client),
// the one poll helper (WaitFor, Until), the numbered-stream reader
// (Stream) and a buffer safe for concurrent writers (Buffer).
//
// It imports testing and is imported only from _test.go files. Every
// blocking step it takes is bounded (Wait unless said otherwise) and fails
// the test, never hangs it. It observes a bridge only through what a
// deployment sees (REST, WebSocket, the process's output), so that it
// holds across changes to the bridge's Go API.
package testbridge
