package oauth

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// errStateMismatch refuses an answer that belongs to another sign-in (an
// older tab, or a forged request to the loopback server).
var errStateMismatch = errors.New("oauth: the sign-in answer is not for this sign-in (its state does not match): run `triage auth login` again and use the address it prints")

// answer is the provider's reply to the authorization request, as it
// reached the loopback server or was pasted: a code, or why there is none.
type answer struct {
	code string
	err  error
}

// answerFrom reads the redirect's query: a refusal from the provider, a
// state that is not ours, or the code.
func answerFrom(q url.Values, state string) answer {
	if q.Get("state") != state {
		return answer{err: errStateMismatch}
	}
	if e := q.Get("error"); e != "" {
		if d := q.Get("error_description"); d != "" {
			e += ": " + d
		}
		return answer{err: fmt.Errorf("oauth: the provider refused the sign-in: %s", e)}
	}
	if q.Get("code") == "" {
		return answer{err: errors.New("oauth: the sign-in answer has no code")}
	}
	return answer{code: q.Get("code")}
}

// loginLoopback runs the installed-app flow: authorization code with
// PKCE, redirected to a one-shot server on a random loopback port, or
// pasted on in when the browser cannot reach that port.
func loginLoopback(ctx context.Context, c Config, oc *oauth2.Config, in io.Reader, out io.Writer) (*oauth2.Token, error) {
	if oc.Endpoint.AuthURL == "" {
		return nil, errors.New("oauth: the loopback flow needs auth_url to sign in")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oauth: listen on the loopback address for the sign-in answer: %w", err)
	}
	cfg := *oc
	cfg.RedirectURL = "http://" + ln.Addr().String() + "/"
	state := rand.Text()
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if c.Provider == "google" {
		// A refresh token, and a new one even when the app was approved before.
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.ApprovalForce)
	}
	authURL := cfg.AuthCodeURL(state, opts...)

	answers := make(chan answer, 1)
	srv := &http.Server{
		Handler:           callback(state, answers),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		// Let the page that answered the browser finish, then stop.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()

	fmt.Fprintf(out, "To let triage read this mailbox, open this address in a browser and sign in as the mailbox user:\n\n  %s\n\n", authURL)
	fmt.Fprintf(out, "The browser then returns to %s on this machine.\n", cfg.RedirectURL)
	var lines chan string
	if in != nil {
		fmt.Fprintln(out, "If it runs elsewhere (over SSH), that last page fails to load: copy its address from the address bar, paste it here and press Enter.")
		lines = make(chan string)
		done := make(chan struct{})
		defer close(done)
		go readLines(in, lines, done)
	}
	for {
		var a answer
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("oauth: sign-in did not complete: %w", ctx.Err())
		case a = <-answers:
		case line, ok := <-lines:
			if !ok {
				lines = nil // end of input: wait for the browser alone
				continue
			}
			var hint string
			a, hint = pasted(line, state)
			if hint != "" {
				fmt.Fprintln(out, hint)
				continue
			}
		}
		if a.err != nil {
			return nil, a.err
		}
		tok, err := cfg.Exchange(ctx, a.code, oauth2.VerifierOption(verifier))
		if err != nil {
			return nil, fmt.Errorf("oauth: exchange the sign-in code at %s: %w", cfg.Endpoint.TokenURL, err)
		}
		return tok, nil
	}
}

// readLines sends the lines of in until it ends or done is closed.
func readLines(in io.Reader, lines chan<- string, done <-chan struct{}) {
	defer close(lines)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		select {
		case lines <- sc.Text():
		case <-done:
			return
		}
	}
}

// pasted reads what the person pasted: the address of the page the
// redirect failed to load, its query, or the bare code. A line that is
// none of these gets a hint (which never repeats the line: it may hold a
// code) and the wait goes on.
func pasted(line, state string) (answer, string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return answer{}, "Paste the address of the page the browser could not load (it starts with http://127.0.0.1:)."
	}
	if strings.HasPrefix(line, "http://") || strings.HasPrefix(line, "https://") || strings.Contains(line, "code=") || strings.Contains(line, "error=") {
		raw := line
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			raw = raw[i+1:]
		}
		if i := strings.IndexByte(raw, '#'); i >= 0 {
			raw = raw[:i]
		}
		q, _ := url.ParseQuery(raw) // what parsed is enough (a browser may show a stray ';')
		if q.Get("code") == "" && q.Get("error") == "" {
			return answer{}, "That address holds no sign-in answer (no code= in it); paste the whole address of the page that failed to load."
		}
		return answerFrom(q, state), ""
	}
	if strings.ContainsAny(line, " \t") {
		return answer{}, "That is neither an address nor a code; paste the whole address of the page that failed to load."
	}
	// A bare code: its state cannot be checked, but PKCE binds it to
	// this sign-in. Copied from an address bar it may be escaped
	// (Google's begin "4%2F").
	if code, err := url.QueryUnescape(line); err == nil {
		line = code
	}
	return answer{code: line}, ""
}

// callback is the loopback server's handler: it takes the first answer
// the provider redirects to "/" and refuses the rest.
func callback(state string, answers chan<- answer) http.Handler {
	var answered atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		q := r.URL.Query()
		if r.URL.Path != "/" || (q.Get("code") == "" && q.Get("error") == "") {
			http.Error(w, "This address waits for a sign-in answer from the provider; there is nothing else here.", http.StatusNotFound)
			return
		}
		if !answered.CompareAndSwap(false, true) {
			http.Error(w, "This sign-in already has its answer.", http.StatusGone)
			return
		}
		a := answerFrom(q, state)
		if a.err != nil {
			http.Error(w, "triage refused this answer; see the terminal.", http.StatusBadRequest)
		} else {
			fmt.Fprintln(w, "triage got the sign-in answer; you may close this tab and return to the terminal.")
		}
		answers <- a
	})
}
