// Package wsproto is RFC 6455 (WebSocket) with RFC 7692 (permessage-deflate)
// as a codec over byte slices, for an event-loop server that receives
// partial reads into a shared buffer.
//
// It has no sockets, no goroutines and no blocking readers. Every function
// works on bytes the caller already holds and reports how many it consumed;
// nothing waits for more input. The caller peeks at its inbound buffer,
// calls the codec, and discards what the codec says it used.
//
// # What the codec owns
//
//   - The opening handshake, both sides: HeaderEnd finds the end of the
//     header without consuming anything, ParseRequest and Request.Validate
//     check a request (400 and 426 as RFC 6455 4.2.1 and 4.4 ask),
//     AppendUpgradeResponse and AppendHTTPResponse write the answers,
//     AppendClientRequest and ParseResponse do the same for a client, which
//     keeps the frames that follow the response.
//   - Framing: Reader.Next parses one frame at a time, checks the header as
//     soon as it is complete (reserved bits and opcodes, masking for the
//     Role, control frame size and FIN, fragmentation order, the declared
//     length against the message limit), unmasks in place only once the
//     whole frame is there, and reassembles fragments into a pooled buffer.
//     Control frames between fragments are returned as they come.
//   - Validation: text is checked as UTF-8 as it arrives, across fragments
//     and within a frame that is still incomplete (on unmasked copies), so
//     that invalid text fails at once; close bodies are checked (length,
//     code, UTF-8 reason).
//   - Close state: after a close frame, any further frame is a protocol
//     error (Reader.CloseReceived).
//   - Compression: NegotiateDeflate picks an offer and always answers with
//     both no_context_takeover parameters, so every compressed message is
//     self-contained; inflating reads the compressed frame and writes the
//     message into a pooled buffer, with Huffman tables borrowed from a pool
//     per message and the output bounded by the message limit
//     (decompression bombs fail with 1009); compressing uses pooled flate
//     writers. SharedFrame encodes a broadcast once, and its
//     compressed form once (from CompressMinSize bytes), for every
//     receiver.
//   - Writing: Append* functions encode frames into the caller's buffer,
//     masked or not, compressed or not.
//
// Failures are values the caller acts on: *HTTPError carries the status
// and headers of the handshake answer, *CloseError the close code to send
// (1002 protocol error, 1007 invalid data, 1009 too big).
//
// # What it leaves to the caller
//
//   - Sockets, reading and writing, and the lifetime of the buffers it is
//     given: a Message's Payload aliases the caller's buffer or the
//     Reader's own, and is valid until the next Next or Release call; copy
//     what must outlive it.
//   - Sending what the protocol requires in reply: the pong for a ping,
//     the echo of a close frame, the close frame for a *CloseError, then
//     closing the connection.
//   - Timers: handshake, ping and idle timeouts.
//   - Limits beyond one message: header size (DefaultMaxHeaderSize, answer
//     with AppendHeaderTooLarge), outbound buffering, message rates.
//   - Routing and authentication: the Request's Path, RawQuery and Origin
//     are handed over raw.
//
// In steady state, parsing, inflating and encoding allocate nothing;
// TestZeroAllocs guards the paths a broadcast takes. See bench_test.go,
// deflate_bench_test.go and docs/bench/wsproto.md.
package wsproto
