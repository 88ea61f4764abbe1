package bridge

// UnknownFrames returns how many frames of unknown type, or of a type only
// a server sends, the handler's sessions have ignored.
func UnknownFrames(h *Handler) int64 { return h.stats.UnknownFrames.Load() }

// SlowDisconnects returns how many subscribers the handler's broker has
// disconnected as too slow.
func SlowDisconnects(h *Handler) int64 { return h.bstats.SlowDisconnects.Load() }

// DroppedPubSub returns how many SUBSCRIBE and PUBLISH frames the handler's
// sessions have dropped.
func DroppedPubSub(h *Handler) int64 { return h.stats.DroppedPubSub.Load() }

// UpstreamCalls returns how many upstream calls the handler runs now.
func UpstreamCalls(h *Handler) int { return h.core.Running() }
