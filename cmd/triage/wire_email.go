package main

import "context"

// wireEmail wires the email integration into triage run (owned by its issue).
func wireEmail(ctx context.Context, d *runDeps) (wiring, error) {
	return wiring{}, nil
}
