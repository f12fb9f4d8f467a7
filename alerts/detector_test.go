package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }

// burst observes n tickets with code, one a minute, and returns the alerts.
func burst(d *Detector, c *clock, prefix string, n, code int) []Alert {
	var out []Alert
	for i := range n {
		out = append(out, d.Observe(Observation{ID: fmt.Sprintf("%s-%d", prefix, i), At: c.Now(), Codes: []int{code}, CodeCategories: []string{"upstream-gateway"}, Category: "upstream-gateway"})...)
		c.Advance(time.Minute)
	}
	return out
}

func TestSpikeHysteresis(t *testing.T) {
	rule := Rule{Name: "ngrok incident", Per: PerCode, Threshold: 5, Window: 15 * time.Minute, Quiet: 15 * time.Minute}
	d := NewDetector([]Rule{rule})
	c := newClock()

	got := burst(d, c, "a", 4, 3004)
	assert.Empty(t, got, "below the threshold")
	got = burst(d, c, "b", 1, 3004)
	require.Len(t, got, 1, "threshold crossed → one alert")
	a := got[0]
	assert.Equal(t, "ERR_NGROK_3004", a.Key)
	assert.Equal(t, 3004, a.Code)
	assert.Equal(t, 5, a.Count)
	assert.Equal(t, []string{"a-0", "a-1", "a-2", "a-3", "b-0"}, a.Samples)
	assert.Equal(t, "alert:ERR_NGROK_3004:"+fmt.Sprint(a.At.Unix())+":ngrok incident", a.TicketID())
	assert.Equal(t, "15m", a.WindowText())

	c.Advance(3 * time.Minute)
	assert.Empty(t, burst(d, c, "c", 6, 3004), "a second burst inside the window → none")

	c.Advance(30 * time.Minute)
	got = burst(d, c, "d", 5, 3004)
	require.Len(t, got, 1, "after the quiet period → a new one")
	assert.Equal(t, "d-0", got[0].Samples[0])
	assert.NotEqual(t, a.TicketID(), got[0].TicketID())
}

func TestSpikeRules(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		obs  []Observation
		want []string // alert keys
	}{
		{
			name: "codes filter",
			rule: Rule{Name: "r", Codes: []int{10000}, Threshold: 2, Window: time.Hour},
			obs: []Observation{
				{ID: "1", Codes: []int{3004}}, {ID: "2", Codes: []int{3004}},
				{ID: "3", Codes: []int{10000}}, {ID: "4", Codes: []int{10000, 3004}},
			},
			want: []string{"ERR_NGROK_10000"},
		},
		{
			name: "per category",
			rule: Rule{Name: "r", Per: PerCategory, Threshold: 3, Window: time.Hour},
			obs: []Observation{
				{ID: "1", Codes: []int{3004}, Category: "upstream-gateway"},
				{ID: "2", Codes: []int{8012}, Category: "upstream-gateway"},
				{ID: "3", Codes: []int{108}, Category: "agent-auth"},
				{ID: "4", Codes: []int{3200}, Category: "upstream-gateway"},
				{ID: "5"},
			},
			want: []string{"upstream-gateway"},
		},
		{
			name: "category filter per code",
			rule: Rule{Name: "r", Categories: []string{"platform-incident"}, Threshold: 2, Window: time.Hour},
			obs: []Observation{
				{ID: "1", Codes: []int{3004, 10000}, CodeCategories: []string{"upstream-gateway", "platform-incident"}},
				{ID: "2", Codes: []int{3004, 10000}, CodeCategories: []string{"upstream-gateway", "platform-incident"}},
			},
			want: []string{"ERR_NGROK_10000"},
		},
		{
			name: "spread over more than the window",
			rule: Rule{Name: "r", Threshold: 2, Window: 30 * time.Second},
			obs:  []Observation{{ID: "1", Codes: []int{3004}}, {ID: "2", Codes: []int{3004}}, {ID: "3", Codes: []int{3004}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDetector([]Rule{tt.rule})
			c := newClock()
			var keys []string
			for _, o := range tt.obs {
				o.At = c.Now()
				for _, a := range d.Observe(o) {
					keys = append(keys, a.Key)
				}
				c.Advance(time.Minute)
			}
			assert.Equal(t, tt.want, keys)
		})
	}
}

func TestSpikeRestore(t *testing.T) {
	rule := Rule{Name: "r", Threshold: 2, Window: 10 * time.Minute, Quiet: time.Hour}
	d := NewDetector([]Rule{rule})
	c := newClock()
	require.Len(t, burst(d, c, "a", 2, 3004), 1)
	raised := d.Raised()
	require.Len(t, raised, 1)

	// A new process restored from the saved state does not alert again
	// within the quiet period, even on a new burst.
	d2 := NewDetector([]Rule{rule})
	d2.Restore(raised)
	c.Advance(20 * time.Minute)
	assert.Empty(t, burst(d2, c, "b", 3, 3004))
	c.Advance(2 * time.Hour)
	assert.Len(t, burst(d2, c, "c", 2, 3004), 1)
}

func TestSweepBoundsMemory(t *testing.T) {
	d := NewDetector([]Rule{{Name: "r", Threshold: 3, Window: time.Minute}})
	c := newClock()
	for i := range 5000 {
		d.Observe(Observation{ID: fmt.Sprint(i), At: c.Now(), Codes: []int{100000 + i}})
		c.Advance(time.Second)
	}
	assert.Less(t, len(d.state), 1100, "idle series are forgotten")
}
