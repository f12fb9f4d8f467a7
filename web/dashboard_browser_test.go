package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// chromiumPath finds Debian's chromium (or $CHROMIUM). Without it the test
// skips, except under CI=true where it fails: CI installs it with
// `apt-get install -y chromium`.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found, and CI=true: install it with `apt-get install -y chromium` (or set CHROMIUM)")
	}
	t.Skip("chromium not found: install it with `apt-get install -y chromium` (or set CHROMIUM) to run the browser test")
	return ""
}

// TestDashboardInBrowser loads the dashboard in headless Chromium against
// a store seeded with a few hundred tickets: the chart and tables show the
// seeded numbers, a code search finds its tickets, a ticket page opens,
// and Retry requeues a failed action. Screenshots go to a temp dir
// ($TRIAGE_SCREENSHOTS when set, for CI artifacts).
func TestDashboardInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	s := seedDashboard(t, 300)
	srv := newDashboardServer(t, s.st, DashboardConfig{})

	shots := os.Getenv("TRIAGE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	t.Logf("screenshots in %s", shots)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// Start the browser on a context without a deadline (chromedp's rule);
	// each later step has its own.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	step := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(sctx, steps...))
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644))
	}

	// The overview: chart segments and tables carry the seeded numbers.
	step(chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("chart")))
	chart := eval[map[string]map[string]int](t, ctx, `(() => { const o = {}; for (const g of document.querySelectorAll('#chart g.bar')) {
		for (const r of g.querySelectorAll('rect')) { (o[g.dataset.day] ||= {})[r.dataset.category] = +r.dataset.count } } return o })()`)
	cats := eval[map[string]int](t, ctx, `Object.fromEntries([...document.querySelectorAll('#categories tr[data-category]')].map(r => [r.dataset.category, +r.querySelector('.n').textContent]))`)
	topWeek := eval[map[string]int](t, ctx, `Object.fromEntries([...document.querySelectorAll('#top-week tr[data-code]')].map(r => [r.dataset.code, +r.querySelector('.n').textContent]))`)
	recent := eval[int](t, ctx, `document.querySelectorAll('#tickets tr[data-ticket]').length`)
	retryBtns := eval[int](t, ctx, `document.querySelectorAll('#failed button.retry').length`)
	shot("1-overview")
	assert.Equal(t, s.perDayCat, chart, "chart")
	assert.Equal(t, s.perCat, cats, "categories table")
	want := map[string]int{}
	for c, n := range s.week {
		want[strconv.Itoa(c)] = n
	}
	assert.Equal(t, want, topWeek, "top codes this week")
	assert.Equal(t, 50, recent, "recent tickets")
	assert.Equal(t, len(s.failed), retryBtns, "failed actions")

	// Search by a code.
	step(chromedp.SetValue(chromedp.ID("search"), "ERR_NGROK_10000"),
		chromedp.Click(chromedp.ID("search-go")),
		chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "Search results")]`)))
	found := eval[int](t, ctx, `document.querySelectorAll('#tickets tr[data-ticket]').length`)
	allHave := eval[bool](t, ctx, `[...document.querySelectorAll('#tickets tr[data-ticket]')].every(r => r.textContent.includes('ERR_NGROK_10000'))`)
	shot("2-search")
	assert.Equal(t, s.week[10000], found, "tickets with ERR_NGROK_10000")
	assert.True(t, allHave)

	// Open a ticket with a failed action and press Retry.
	id := s.failed[0]
	step(chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("failed")),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed tr[data-action="%d"] a`, id))),
		chromedp.WaitVisible(chromedp.ID("ticket-id")))
	marks := eval[int](t, ctx, `document.querySelectorAll('mark.code').length`)
	shot("3-ticket")
	step(chromedp.Click(chromedp.ID(fmt.Sprintf("retry-%d", id))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#actions tr[data-action="%d"][data-state="pending"]`, id))))
	stateNow := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('#actions tr[data-action="%d"]').dataset.state`, id))
	shot("4-retried")
	assert.Positive(t, marks, "codes highlighted")
	assert.Equal(t, "pending", stateNow)
	acts, err := s.st.Actions(context.Background(), store.ActionQuery{TicketID: s.failedTix[0]})
	require.NoError(t, err)
	for _, a := range acts {
		if a.ID == id {
			assert.Equal(t, ticket.StatePending, a.State, "the store has the action pending again")
			assert.Zero(t, a.Attempts)
		}
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}
