// Package standin holds in-memory stand-ins for the pipeline's ingest and
// the store's cursor table, for the tests of the integrations that take
// them: a test sees at once what was stored, and can make storing fail.
package standin

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
)

// Ingester stands in for the pipeline: it keeps every Incoming it is
// given and answers pipeline.ErrDuplicate for an ID it has, as the store
// does. The zero value is ready to use.
type Ingester struct {
	mu   sync.Mutex
	got  []pipeline.Incoming
	seen map[string]bool
	err  error
}

// Ingest implements the integrations' Ingester.
func (g *Ingester) Ingest(_ context.Context, in pipeline.Incoming) (*store.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return nil, g.err
	}
	if g.seen[in.ID] {
		return nil, fmt.Errorf("ticket %s: %w", in.ID, pipeline.ErrDuplicate)
	}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	g.seen[in.ID] = true
	g.got = append(g.got, in)
	rec := &store.Record{}
	if in.Ticket != nil {
		rec.Ticket = *in.Ticket
	}
	return rec, nil
}

// Got returns what was stored, in order.
func (g *Ingester) Got() []pipeline.Incoming {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.got)
}

// Fail makes the next calls of Ingest return err (nil: store again).
func (g *Ingester) Fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.err = err
}

// Cursors stands in for the store's cursor table. The zero value is
// ready to use.
type Cursors struct {
	mu sync.Mutex
	m  map[string]string
}

// Cursor returns the value saved under k ("" when none).
func (c *Cursors) Cursor(_ context.Context, k string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k], nil
}

// SetCursor saves v under k.
func (c *Cursors) SetCursor(_ context.Context, k, v string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	c.m[k] = v
	return nil
}
