package upstream

import (
	"log/slog"
	"testing"
)

// RefreshStale asks for one reload per cooldown, however often calls find
// the schema stale.
func TestRefreshStaleCooldown(t *testing.T) {
	u := New(nil, nil, slog.New(slog.DiscardHandler))
	u.RefreshStale()
	select {
	case <-u.refresh:
	default:
		t.Fatal("first RefreshStale asked for no reload")
	}
	u.RefreshStale()
	select {
	case <-u.refresh:
		t.Fatal("second RefreshStale within the cooldown asked for a reload")
	default:
	}
	u.lastStale.Add(-int64(staleCooldown)) // the cooldown has passed
	u.RefreshStale()
	select {
	case <-u.refresh:
	default:
		t.Fatal("RefreshStale after the cooldown asked for no reload")
	}
}
