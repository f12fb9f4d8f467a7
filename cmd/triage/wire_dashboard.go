package main

import "context"

// wireDashboard wires the dashboard integration into triage run (owned by its issue).
func wireDashboard(ctx context.Context, d *runDeps) (wiring, error) {
	return wiring{}, nil
}
