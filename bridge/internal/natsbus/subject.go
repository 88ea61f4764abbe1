package natsbus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// DefaultSubject is the subject prefix of [Options.Subject] when it is empty.
const DefaultSubject = "grpcwamp.events"

// subjectFor returns the NATS subject carrying topic's envelopes:
// prefix + "." + the lower-case hex SHA-256 of the topic URI.
//
// A topic URI may hold anything a JSON string can: dots (NATS token
// separators), spaces, "*" and ">" (wildcards), control characters, and any
// length, while a subject must fit the server's control line (4 KiB by
// default). The hash is always one 64-character token of [0-9a-f], whatever
// the URI. The envelope carries the full topic and the subscription callback
// compares it with the subscribed one, so a collision (or a foreign
// publisher on the subject) can never cross topics; it would only cost a
// dropped message.
func subjectFor(prefix, topic string) string {
	sum := sha256.Sum256([]byte(topic))
	var b strings.Builder
	b.Grow(len(prefix) + 1 + hex.EncodedLen(len(sum)))
	b.WriteString(prefix)
	b.WriteByte('.')
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// checkPrefix reports why prefix is not a literal NATS subject: one or more
// non-empty dot-separated tokens with no whitespace and no wildcard.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("natsbus: subject prefix is empty")
	}
	for i, tok := range strings.Split(prefix, ".") {
		if tok == "" {
			return fmt.Errorf("natsbus: subject prefix %q: token %d is empty", prefix, i+1)
		}
		if j := strings.IndexAny(tok, " \t\r\n\f\v*>"); j >= 0 {
			return fmt.Errorf("natsbus: subject prefix %q: token %q contains %q (whitespace and wildcards are not allowed)",
				prefix, tok, tok[j])
		}
	}
	return nil
}
