package ghapp

import "context"

// EventPing is sent when a webhook is set up.
const EventPing = "ping"

// Ping acknowledges GitHub's ping: a verified, well-formed ping is all it
// asks for.
type Ping struct{}

// Handles implements Handler.
func (Ping) Handles() []string { return []string{EventPing} }

// Handle implements Handler.
func (Ping) Handle(context.Context, string, string, []byte) error { return nil }
