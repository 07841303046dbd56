//go:build race

package engine

// raceEnabled: the race detector slows the simulation tenfold; TestSim
// runs fewer schedules under it (the full set runs without it).
const raceEnabled = true
