package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/colibri-bus/colibri/routing"
	"strings"
)

func validateConstraints(v *routing.VideoConstraints, where string) error {
	if v.MaxHeight < -1 {
		return fmt.Errorf("%s.maxHeight = %d: must be -1 or more", where, v.MaxHeight)
	}
	if v.MaxFrameRate != nil && *v.MaxFrameRate < 0 && *v.MaxFrameRate != -1 {
		return fmt.Errorf("%s.maxFrameRate = %g: must be -1 or more", where, *v.MaxFrameRate)
	}
	return nil
}

// videoTypeMessage is the deprecated per-endpoint form.
type videoTypeMessage struct {
	ColibriClass string `json:"colibriClass"`
	VideoType    string `json:"videoType"`
	EndpointID   string `json:"endpointId,omitempty"`
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

func validateReceiverVideoConstraints(m *routing.ReceiverVideoConstraints) error {
	if m.LastN != nil && *m.LastN < -1 {
		return fmt.Errorf("lastN = %d: must be -1 or more", *m.LastN)
	}
	if m.DefaultConstraints != nil {
		if err := validateConstraints(m.DefaultConstraints, "defaultConstraints"); err != nil {
			return err
		}
	}
	for name, c := range m.Constraints {
		if err := validateConstraints(&c, "constraints."+name); err != nil {
			return err
		}
	}
	return nil
}

func validateSourceVideoType(m *routing.SourceVideoTypeMessage) error {
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

func validateReceiverAudioSubscription(m *routing.ReceiverAudioSubscription) error {
	switch m.Mode {
	case "", "All", "None", "Include", "Exclude":
		return nil
	}
	return fmt.Errorf("mode %q unknown", m.Mode)
}
