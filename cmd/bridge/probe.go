package main

import (
	"fmt"
	"io"
)

// probeMain is implemented by the troubleshooting probe (issue 6).
func probeMain(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bridge probe: not implemented yet")
	return 1
}
