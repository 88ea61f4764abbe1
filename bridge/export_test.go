package bridge

// UnknownFrames returns how many frames of unknown type, or of a type only
// a server sends, the handler's sessions have ignored.
func UnknownFrames(h *Handler) int64 { return h.stats.UnknownFrames.Load() }
