package bridge

import (
	"encoding/json"
	"time"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
	"github.com/wampbridge/grpcwamp/bridge/internal/feed"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// SchemaChangeTopic is the meta topic on which the bridge tells its
// subscribed clients that the upstream's schema changed. The event is
// {"added": [...], "removed": [...]}: the full names of the gRPC methods
// that appeared and disappeared, each sorted (both empty when only message
// types or options changed), e.g.
//
//	[8,"wamp.bridge.on_schema_change",{"added":["demo.v1.ClockService.GetTime"],"removed":[]}]
//
// With WithNATS every replica reloads its own schema and tells its own
// subscribers: the event does not go through NATS.
const SchemaChangeTopic = "wamp.bridge.on_schema_change"

// DefaultSchemaRefresh is how often the bridge loads the upstream's schema
// again unless WithSchemaRefresh says otherwise.
const DefaultSchemaRefresh = 30 * time.Second

// refreshSetting is the schema refresh period of a config; unset means
// DefaultSchemaRefresh.
type refreshSetting struct {
	d   time.Duration
	set bool
}

func (r refreshSetting) period() time.Duration {
	if !r.set {
		return DefaultSchemaRefresh
	}
	return max(r.d, 0)
}

// WithSchemaRefresh sets how often the bridge loads the upstream's schema
// again after the first load: by server reflection, or by reading the
// descriptor set file again when its size or modification time changed.
// The new schema replaces the old one only when it differs; calls in
// flight and sessions are not touched. 0 disables the period; the schema is
// then reloaded only by [Handler.RefreshSchema] and when a method answers
// UNIMPLEMENTED. The default is 30 s.
func WithSchemaRefresh(d time.Duration) Option {
	return func(c *config) { c.schemaRefresh = refreshSetting{d: d, set: true} }
}

// RefreshSchema loads the upstream's schema again now, in the background:
// it returns at once, and triggers that arrive while a reload is pending
// coalesce. The schema is replaced, and subscribers of SchemaChangeTopic
// told, only when it changed. cmd/bridge calls it on SIGHUP.
func (h *Handler) RefreshSchema() { h.up.Refresh() }

// watchSchema sets up's refresh period, makes it tell b's subscribers of
// SchemaChangeTopic when the schema changes, and has feeds checked against
// each version of the schema, the first included. Call it before up.Run.
func watchSchema(up *upstream.Upstream, cfg config, b *broker.Broker, feeds *feed.Manager) {
	up.SetRefreshInterval(cfg.schemaRefresh.period())
	up.SetOnLoad(func(c *upstream.Catalog) { feeds.CheckSchema(c, up.Source()) })
	up.SetOnChange(func(added, removed []string) {
		ev, err := json.Marshal(schemaChange{Added: nonNil(added), Removed: nonNil(removed)})
		if err != nil {
			cfg.logger.Error("cannot encode the schema change event", "error", err)
			return
		}
		b.DeliverLocal(SchemaChangeTopic, ev)
	})
}

type schemaChange struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
