package main

import (
	"testing"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

// TestMain removes the bridge binary the process tests built.
func TestMain(m *testing.M) { testbridge.Main(m) }
