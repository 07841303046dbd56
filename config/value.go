package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gurkankaymak/hocon"
)

// This file turns the values of github.com/gurkankaymak/hocon into Go values.
// The library has quirks the functions below hide:
//   - String() re-quotes strings ("example.com:443" comes back with quotes),
//     so strings are read from the underlying hocon.String;
//   - an unquoted path such as /etc/jitsi/ssl.store, or a size such as
//     64 KiB, is a concatenation of pieces; it is read back as the text;
//   - -1 is a string, not a number;
//   - 1m is a Duration of one minute even where a size is meant.

// absent reports whether v means "not set": a missing key, null, or an
// optional substitution ${?VAR} whose variable is not defined.
func absent(v hocon.Value) bool {
	if v == nil {
		return true
	}
	switch v.Type() {
	case hocon.NullType, hocon.SubstitutionType:
		return true
	}
	return false
}

// text returns a scalar value as the file spelled it, without HOCON's
// re-quoting. It fails for objects and arrays.
func text(v hocon.Value) (string, error) {
	switch t := v.(type) {
	case hocon.String:
		return string(t), nil
	case hocon.Int:
		return strconv.Itoa(int(t)), nil
	case hocon.Float64:
		return strconv.FormatFloat(float64(t), 'f', -1, 64), nil
	case hocon.Float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32), nil
	case hocon.Boolean:
		return strconv.FormatBool(bool(t)), nil
	case hocon.Duration:
		return time.Duration(t).String(), nil
	case hocon.Object:
		return "", errors.New("is an object, want a single value")
	case hocon.Array:
		return "", errors.New("is a list, want a single value")
	}
	if v.Type() == hocon.ConcatenationType {
		// Pieces alternate value, whitespace, value...; the parser records
		// each whitespace character as Go's quoted token string, " ".
		var b strings.Builder
		for i, piece := range pieces(v) {
			s, err := text(piece)
			if err != nil {
				return "", err
			}
			if i%2 == 1 {
				s = unquoteSpace.Replace(s)
			}
			b.WriteString(s)
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unsupported value %s", v)
}

var unquoteSpace = strings.NewReplacer(`" "`, " ", `"\t"`, "\t")

// pieces returns the parts of a concatenation, whose type the hocon
// package does not export (it is a []hocon.Value underneath).
func pieces(v hocon.Value) []hocon.Value {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil
	}
	return rv.Convert(reflect.TypeOf(hocon.Array{})).Interface().(hocon.Array)
}

// show formats v for an error message: strings quoted, numbers and
// booleans bare.
func show(v hocon.Value) string {
	switch t := v.(type) {
	case hocon.Int, hocon.Float64, hocon.Float32, hocon.Boolean, hocon.Duration:
		s, _ := text(t)
		return s
	case hocon.Object:
		return "{...}"
	case hocon.Array:
		return t.String()
	}
	s, err := text(v)
	if err != nil {
		return v.String()
	}
	return quote(s)
}

// toString reads a string value. Numbers and booleans are accepted as
// their text (server-id = 42 is the string "42").
func toString(v hocon.Value) (string, error) {
	return text(v)
}

// toInt reads an integer, written as a number or as a string ("-1").
func toInt(v hocon.Value) (int, error) {
	if n, ok := v.(hocon.Int); ok {
		return int(n), nil
	}
	s, err := text(v)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errors.New("not an integer")
	}
	return n, nil
}

// toBool reads true/false, also spelled yes/no or on/off as HOCON allows.
func toBool(v hocon.Value) (bool, error) {
	if b, ok := v.(hocon.Boolean); ok {
		return bool(b), nil
	}
	s, err := text(v)
	if err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
	}
	return false, errors.New("not a boolean (want true or false)")
}

// toStringList reads a list of strings: ["a", "b"].
func toStringList(v hocon.Value) ([]string, error) {
	arr, ok := v.(hocon.Array)
	if !ok {
		return nil, errors.New(`not a list (want ["host:port", ...])`)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		if absent(e) {
			continue
		}
		s, err := text(e)
		if err != nil {
			return nil, fmt.Errorf("element %s %v", show(e), err)
		}
		out = append(out, s)
	}
	return out, nil
}

// durationUnits are HOCON's duration units (the HOCON specification,
// "Duration format").
var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "nano": time.Nanosecond, "nanos": time.Nanosecond,
	"nanosecond": time.Nanosecond, "nanoseconds": time.Nanosecond,
	"us": time.Microsecond, "micro": time.Microsecond, "micros": time.Microsecond,
	"microsecond": time.Microsecond, "microseconds": time.Microsecond,
	"ms": time.Millisecond, "milli": time.Millisecond, "millis": time.Millisecond,
	"millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

var numberUnit = regexp.MustCompile(`^([+-]?[0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$`)

// toDuration reads a duration: "15 seconds", 15s, "500 ms", "1 minute",
// Go's "1m30s", or a bare number, which HOCON reads as milliseconds.
// The sign is kept; validation rejects negative durations.
func toDuration(v hocon.Value) (time.Duration, error) {
	switch t := v.(type) {
	case hocon.Duration:
		return time.Duration(t), nil
	case hocon.Int:
		return time.Duration(t) * time.Millisecond, nil
	}
	s, err := text(v)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	m := numberUnit.FindStringSubmatch(s)
	bad := errors.New(`not a duration (want e.g. "15 seconds", 15s, "500 ms")`)
	if m == nil {
		return 0, bad
	}
	unit := time.Millisecond
	if m[2] != "" {
		u, ok := durationUnits[m[2]]
		if !ok {
			return 0, bad
		}
		unit = u
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || math.Abs(f*float64(unit)) > math.MaxInt64 {
		return 0, bad
	}
	return time.Duration(f * float64(unit)), nil
}

// sizeUnits are HOCON's size units (the HOCON specification, "Size in
// bytes format"): single letters and the -i forms are powers of two,
// kB/MB/GB powers of ten.
var sizeUnits = map[string]int64{
	"": 1, "B": 1, "b": 1, "byte": 1, "bytes": 1,
	"K": 1 << 10, "k": 1 << 10, "Ki": 1 << 10, "KiB": 1 << 10, "kibibyte": 1 << 10, "kibibytes": 1 << 10,
	"kB": 1000, "kilobyte": 1000, "kilobytes": 1000,
	"M": 1 << 20, "m": 1 << 20, "Mi": 1 << 20, "MiB": 1 << 20, "mebibyte": 1 << 20, "mebibytes": 1 << 20,
	"MB": 1000 * 1000, "megabyte": 1000 * 1000, "megabytes": 1000 * 1000,
	"G": 1 << 30, "g": 1 << 30, "Gi": 1 << 30, "GiB": 1 << 30, "gibibyte": 1 << 30, "gibibytes": 1 << 30,
	"GB": 1000 * 1000 * 1000, "gigabyte": 1000 * 1000 * 1000, "gigabytes": 1000 * 1000 * 1000,
}

// toSize reads a size in bytes: 65536, "64 KiB", 64k, "1 MB".
//
// The hocon library reads an unquoted 1m (HOCON: one mebibyte) as a
// duration of one minute before we see it, so a duration that is a whole
// number of minutes is taken as that many MiB. Any other duration is an
// error.
func toSize(v hocon.Value) (int64, error) {
	switch t := v.(type) {
	case hocon.Int:
		return int64(t), nil
	case hocon.Duration:
		d := time.Duration(t)
		if d%time.Minute == 0 {
			return int64(d/time.Minute) << 20, nil
		}
		return 0, errors.New(`not a size (want bytes or e.g. "64 KiB", "1 MiB")`)
	}
	s, err := text(v)
	if err != nil {
		return 0, err
	}
	bad := errors.New(`not a size (want bytes or e.g. "64 KiB", "1 MiB")`)
	m := numberUnit.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, bad
	}
	unit, ok := sizeUnits[m[2]]
	if !ok {
		return 0, bad
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || math.Abs(f*float64(unit)) > math.MaxInt64/2 {
		return 0, bad
	}
	return int64(f * float64(unit)), nil
}
