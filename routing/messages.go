package routing

// The messages below are consumed by the bridge and handed to the embedder
// through Hooks. They are decoded strictly, as Jitsi's Jackson mapper does:
// an unknown field or a wrong type drops the message.

// VideoConstraints is {maxHeight, maxFrameRate}: maxHeight -1 means
// unlimited, 0 disabled; maxFrameRate defaults to -1 (unlimited).
type VideoConstraints struct {
	MaxHeight    int      `json:"maxHeight"`
	MaxFrameRate *float64 `json:"maxFrameRate,omitempty"`
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
