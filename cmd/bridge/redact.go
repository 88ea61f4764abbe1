package main

import (
	"fmt"
	"strings"
)

// urlSettings are the settings that hold URLs, which may carry a secret
// in their userinfo (nats://user:password@host:4222, nats://token@host,
// http://user:password@collector:4317). -print-config and errors show
// them with the secret replaced by redacted; the rest of the URL, which an
// operator needs to see, is kept. (-upstream is a gRPC target, whose
// authority names a DNS server, not a user.)
var urlSettings = map[string]bool{"nats": true, "trace-endpoint": true}

// redactURL returns s, a URL or a comma-separated list of them (as -nats
// takes), with the password of every userinfo replaced by redacted, and a
// userinfo without a password replaced whole: NATS reads a lone name as a
// token. Whatever is not a URL with userinfo is returned as it is.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(p)
	}
	return strings.Join(parts, ",")
}

func redactOne(s string) string {
	scheme := strings.Index(s, "://")
	if scheme < 0 {
		return s
	}
	rest := s[scheme+len("://"):]
	authority := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		authority = rest[:end]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return s
	}
	userinfo := redacted
	if user, _, hasPassword := strings.Cut(authority[:at], ":"); hasPassword {
		userinfo = user + ":" + redacted
	}
	return s[:scheme+len("://")] + userinfo + rest[at:]
}

// checkNotRedacted refuses a URL setting whose secret is the placeholder
// that -print-config shows, so that its output, read back with -config,
// does not silently connect with the wrong credentials.
func checkNotRedacted(name, v string) error {
	if strings.Contains(v, redacted+"@") {
		return fmt.Errorf("%s is what -print-config shows for the secret of a URL, not the secret: give it, or set the URL in %s and remove the setting",
			redacted, envName(name))
	}
	return nil
}
