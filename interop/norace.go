//go:build !race

package interop

// raceBuild: see race.go.
const raceBuild = false
