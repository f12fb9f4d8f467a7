package main

import "context"

// wireSlack wires the slack integration into triage run (owned by its issue).
func wireSlack(ctx context.Context, d *runDeps) (wiring, error) {
	return wiring{}, nil
}
