package route

// Class is a Colibri message class: the value of the colibriClass field.
type Class uint8

// The message classes the bridge knows (reference section 4.2). Anything
// else is ClassUnknown and is dropped.
const (
	ClassUnknown Class = iota
	ClassClientHello
	ClassServerHello
	ClassEndpointMessage
	ClassEndpointStats
	ClassLastNChangedEvent
	ClassReceiverVideoConstraints
	ClassSourceVideoTypeMessage
	ClassVideoTypeMessage
	ClassReceiverAudioSubscription
	ClassDominantSpeakerEndpointChangeEvent
	ClassEndpointConnectivityStatusChangeEvent
	ClassForwardedSources
	ClassSenderSourceConstraints
	ClassVideoSourcesMap
	ClassAudioSourcesMap
	ClassConnectionStats
	ClassSyntheticSourceSendingChangeEvent
	ClassAddReceiver
	ClassRemoveReceiver
	// The relay resume extension's own messages (docs/relay-resume.md):
	// never numbered, never routed.
	ClassRelayAck
	ClassRelaySkip
	numClasses
)

// NumClasses is the number of classes, for arrays indexed by Class.
const NumClasses = int(numClasses)

var classNames = [numClasses]string{
	ClassUnknown:                               "Unknown",
	ClassClientHello:                           "ClientHello",
	ClassServerHello:                           "ServerHello",
	ClassEndpointMessage:                       "EndpointMessage",
	ClassEndpointStats:                         "EndpointStats",
	ClassLastNChangedEvent:                     "LastNChangedEvent",
	ClassReceiverVideoConstraints:              "ReceiverVideoConstraints",
	ClassSourceVideoTypeMessage:                "SourceVideoTypeMessage",
	ClassVideoTypeMessage:                      "VideoTypeMessage",
	ClassReceiverAudioSubscription:             "ReceiverAudioSubscription",
	ClassDominantSpeakerEndpointChangeEvent:    "DominantSpeakerEndpointChangeEvent",
	ClassEndpointConnectivityStatusChangeEvent: "EndpointConnectivityStatusChangeEvent",
	ClassForwardedSources:                      "ForwardedSources",
	ClassSenderSourceConstraints:               "SenderSourceConstraints",
	ClassVideoSourcesMap:                       "VideoSourcesMap",
	ClassAudioSourcesMap:                       "AudioSourcesMap",
	ClassConnectionStats:                       "ConnectionStats",
	ClassSyntheticSourceSendingChangeEvent:     "SyntheticSourceSendingChangeEvent",
	ClassAddReceiver:                           "AddReceiver",
	ClassRemoveReceiver:                        "RemoveReceiver",
	ClassRelayAck:                              "RelayAck",
	ClassRelaySkip:                             "RelaySkip",
}

// String returns the class name as it appears in colibriClass.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "Unknown"
}

// Droppable reports whether a message of this class may be dropped for a
// slow receiver before anything else: periodic statistics that the next
// period replaces.
func (c Class) Droppable() bool {
	return c == ClassEndpointStats || c == ClassConnectionStats
}

// classOf maps a colibriClass value to its Class without allocating.
func classOf(name []byte) Class {
	switch string(name) {
	case "EndpointMessage":
		return ClassEndpointMessage
	case "EndpointStats":
		return ClassEndpointStats
	case "ClientHello":
		return ClassClientHello
	case "ServerHello":
		return ClassServerHello
	case "LastNChangedEvent":
		return ClassLastNChangedEvent
	case "ReceiverVideoConstraints":
		return ClassReceiverVideoConstraints
	case "SourceVideoTypeMessage":
		return ClassSourceVideoTypeMessage
	case "VideoTypeMessage":
		return ClassVideoTypeMessage
	case "ReceiverAudioSubscription":
		return ClassReceiverAudioSubscription
	case "DominantSpeakerEndpointChangeEvent":
		return ClassDominantSpeakerEndpointChangeEvent
	case "EndpointConnectivityStatusChangeEvent":
		return ClassEndpointConnectivityStatusChangeEvent
	case "ForwardedSources":
		return ClassForwardedSources
	case "SenderSourceConstraints":
		return ClassSenderSourceConstraints
	case "VideoSourcesMap":
		return ClassVideoSourcesMap
	case "AudioSourcesMap":
		return ClassAudioSourcesMap
	case "ConnectionStats":
		return ClassConnectionStats
	case "SyntheticSourceSendingChangeEvent":
		return ClassSyntheticSourceSendingChangeEvent
	case "AddReceiver":
		return ClassAddReceiver
	case "RemoveReceiver":
		return ClassRemoveReceiver
	case "RelayAck":
		return ClassRelayAck
	case "RelaySkip":
		return ClassRelaySkip
	}
	return ClassUnknown
}
