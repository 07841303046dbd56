//go:build !race

package testbridge

// Race: see race.go.
const Race = false
