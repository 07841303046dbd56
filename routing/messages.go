package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The messages below are consumed by the bridge and handed to the embedder
// through Hooks. They are decoded strictly, as Jitsi's Jackson mapper does:
// an unknown field or a wrong type drops the message.

// VideoConstraints is {maxHeight, maxFrameRate}: maxHeight -1 means
// unlimited, 0 disabled; maxFrameRate defaults to -1 (unlimited).
type VideoConstraints struct {
	MaxHeight    int      `json:"maxHeight"`
	MaxFrameRate *float64 `json:"maxFrameRate,omitempty"`
}

func (v *VideoConstraints) validate(where string) error {
	if v.MaxHeight < -1 {
		return fmt.Errorf("%s.maxHeight = %d: must be -1 or more", where, v.MaxHeight)
	}
	if v.MaxFrameRate != nil && *v.MaxFrameRate < 0 && *v.MaxFrameRate != -1 {
		return fmt.Errorf("%s.maxFrameRate = %g: must be -1 or more", where, *v.MaxFrameRate)
	}
	return nil
}

// LastNChangedEvent sets how many video sources the endpoint wants (-1: all).
type LastNChangedEvent struct {
	ColibriClass string `json:"colibriClass"`
	LastN        int    `json:"lastN"`
}

// ReceiverVideoConstraints are an endpoint's bandwidth allocation settings.
type ReceiverVideoConstraints struct {
	ColibriClass        string                      `json:"colibriClass"`
	LastN               *int                        `json:"lastN,omitempty"`
	SelectedSources     []string                    `json:"selectedSources,omitempty"`
	OnStageSources      []string                    `json:"onStageSources,omitempty"`
	DefaultConstraints  *VideoConstraints           `json:"defaultConstraints,omitempty"`
	Constraints         map[string]VideoConstraints `json:"constraints,omitempty"`
	AssumedBandwidthBps *int64                      `json:"assumedBandwidthBps,omitempty"`
}

// SourceVideoTypeMessage sets the video type of a source. Over relays it
// carries the owning endpoint's id.
type SourceVideoTypeMessage struct {
	ColibriClass string `json:"colibriClass"`
	SourceName   string `json:"sourceName"`
	VideoType    string `json:"videoType"`
	EndpointID   string `json:"endpointId,omitempty"`
}

// videoTypeMessage is the deprecated per-endpoint form.
type videoTypeMessage struct {
	ColibriClass string `json:"colibriClass"`
	VideoType    string `json:"videoType"`
	EndpointID   string `json:"endpointId,omitempty"`
}

// ReceiverAudioSubscription sets which audio sources the endpoint receives.
type ReceiverAudioSubscription struct {
	ColibriClass string   `json:"colibriClass"`
	All          bool     `json:"all"`
	Include      []string `json:"include,omitempty"`
	Exclude      []string `json:"exclude,omitempty"`
	Mode         string   `json:"mode,omitempty"` // legacy: All, None, Include, Exclude
	List         []string `json:"list,omitempty"` // legacy
}

// AddReceiver is a remote bridge asking for a local source.
type AddReceiver struct {
	ColibriClass     string           `json:"colibriClass"`
	BridgeID         string           `json:"bridgeId"`
	SourceName       string           `json:"sourceName"`
	VideoConstraints VideoConstraints `json:"videoConstraints"`
}

var videoTypes = map[string]bool{"camera": true, "desktop": true, "desktop_high_fps": true, "disabled": true, "none": true}

// decodeStrict decodes msg into v, rejecting unknown fields and trailing data.
func decodeStrict(msg []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(msg))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func (m *ReceiverVideoConstraints) validate() error {
	if m.LastN != nil && *m.LastN < -1 {
		return fmt.Errorf("lastN = %d: must be -1 or more", *m.LastN)
	}
	if m.DefaultConstraints != nil {
		if err := m.DefaultConstraints.validate("defaultConstraints"); err != nil {
			return err
		}
	}
	for name, c := range m.Constraints {
		if err := c.validate("constraints." + name); err != nil {
			return err
		}
	}
	return nil
}

func (m *SourceVideoTypeMessage) validate() error {
	if m.SourceName == "" {
		return errors.New("sourceName missing")
	}
	t := strings.ToLower(m.VideoType)
	if !videoTypes[t] {
		return fmt.Errorf("videoType %q unknown", m.VideoType)
	}
	m.VideoType = t
	return nil
}

func (m *ReceiverAudioSubscription) validate() error {
	switch m.Mode {
	case "", "All", "None", "Include", "Exclude":
		return nil
	}
	return fmt.Errorf("mode %q unknown", m.Mode)
}
