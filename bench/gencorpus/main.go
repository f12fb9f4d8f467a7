// Command gencorpus writes a large mixed log/email text corpus with ngrok
// error codes at known places, for bench/extract.sh. It prints the codes it
// planted, one per line, to the file named by -codes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
)

var lines = []string{
	`t=2026-11-24T09:12:01+0000 lvl=info msg="tunnel session started" obj=tunnels.session`,
	`t=2026-11-24T09:12:02+0000 lvl=info msg="client session established" obj=csess id=a1b2c3d4e5f6`,
	`t=2026-11-24T09:12:03+0000 lvl=dbug msg="heartbeat received" obj=csess id=a1b2c3d4e5f6 latency=31ms`,
	`10.1.4.23 - - [24/Nov/2026:09:12:04 +0000] "GET /api/v2/orders?page=3 HTTP/1.1" 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64)"`,
	`10.1.4.23 - - [24/Nov/2026:09:12:05 +0000] "POST /webhooks/stripe HTTP/1.1" 502 157 "-" "Stripe/1.0 (+https://stripe.com/docs/webhooks)"`,
	`2026-11-24 09:12:06,118 WARNING [worker-3] Retrying request to upstream in 2.0s (attempt 2 of 5)`,
	`2026-11-24 09:12:07,440 ERROR [http] connect ECONNREFUSED 127.0.0.1:3000 while proxying /health`,
	`{"level":"info","ts":1764000000.12,"caller":"server/main.go:88","msg":"listening","addr":"127.0.0.1:8080"}`,
	`{"level":"warn","ts":1764000001.55,"msg":"slow query","duration_ms":812,"table":"invoices"}`,
	`Hi team, since this morning our staging tunnel keeps dropping every few minutes.`,
	`We did not change anything in our configuration and the same setup worked last week.`,
	`Could you please have a look? This is blocking our demo with a customer tomorrow.`,
	`I have attached the agent log below, let me know if you need anything else from us.`,
	`Best regards, Priya (Platform team, Example Logistics GmbH)`,
	`> On Mon, Nov 23, 2026 at 4:02 PM Support <support@triage.example> wrote:`,
	`> Thanks for reaching out. Could you send us the output of the agent with --log=stdout?`,
	`Kubernetes pod restarted: Back-off restarting failed container api in pod api-7d9f8 (kube-system)`,
	`panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV]`,
	`curl: (7) Failed to connect to localhost port 8080 after 0 ms: Connection refused`,
	`net::ERR_CONNECTION_REFUSED while loading https://example.test/app.js`,
	`ngrok version 3.18.4, Go 1.23, os linux/amd64; config file at /home/dev/.config/ngrok/ngrok.yml`,
	`Forwarding https://8f3a-203-0-113-7.ngrok-free.app -> http://localhost:8080`,
}

var forms = []string{
	"ERROR:  failed to start tunnel: ERR_NGROK_%d",
	`t=2026-11-24T09:13:00+0000 lvl=eror msg="session closed, starting reconnect loop" err="err_ngrok_%d"`,
	`the dashboard shows ERR\_NGROK\_%d for this endpoint`,
	"see https://ngrok.com/docs/errors/err_ngrok_%d/ for details",
	`{"error_code":"ERR_NGROK_%d","status_code":400,"msg":"request failed"}`,
	"my browser shows `ERR_NGROK_%d` when I open the URL",
	"Our monitor says ERR-NGROK-%d since 9am",
	"we got ngrok error %d again",
}

// wordings are error pastes without their code, each with the code a
// support engineer would name (our own sentences, in the shapes agents
// and browsers print): the wording pass must find them.
var wordings = []struct {
	code int
	text string
}{
	{108, `t=2026-11-24T09:14:00+0000 lvl=eror msg="session ended" err="Your account is limited to 1 simultaneous ngrok agent sessions."`},
	{3200, `The browser says: Tunnel demo-7.ngrok.io not found`},
	{3004, `ngrok gateway error: the upstream returned an invalid or incomplete HTTP response`},
	{8012, `Traffic reached the agent but the agent failed to establish a connection to localhost:5000`},
	{4018, `ERROR: this ngrok session is not authenticated, sign in first`},
	{334, `failed to start tunnel: the endpoint https://demo.ngrok.app is already online elsewhere`},
}

func main() {
	out := flag.String("o", "corpus.txt", "corpus file")
	codesOut := flag.String("codes", "codes.txt", "file listing the planted codes in order")
	size := flag.Int64("size", 256<<20, "corpus size in bytes")
	every := flag.Int("every", 40, "plant a code about once per this many lines")
	wordingsOut := flag.String("wordings", "", "file listing the codes of the error wordings planted (without codes), in order")
	wordEvery := flag.Int("word-every", 2000, "plant an error's wording about once per this many lines")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	cf, err := os.Create(*codesOut)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cw := bufio.NewWriter(cf)
	var ww *bufio.Writer
	if *wordingsOut != "" {
		wf, err := os.Create(*wordingsOut)
		if err != nil {
			log.Fatal(err)
		}
		defer wf.Close()
		ww = bufio.NewWriter(wf)
	}
	wrng := rand.New(rand.NewPCG(9, 9))
	rng := rand.New(rand.NewPCG(42, 7))
	var n int64
	planted := 0
	for n < *size {
		var l string
		if rng.IntN(*every) == 0 {
			code := 100 + rng.IntN(27900)
			l = fmt.Sprintf(forms[rng.IntN(len(forms))], code)
			fmt.Fprintln(cw, code)
			planted++
		} else if ww != nil && wrng.IntN(*wordEvery) == 0 {
			wd := wordings[wrng.IntN(len(wordings))]
			l = wd.text
			fmt.Fprintln(ww, wd.code)
		} else {
			l = lines[rng.IntN(len(lines))]
		}
		w.WriteString(l)
		w.WriteByte('\n')
		n += int64(len(l) + 1)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := cw.Flush(); err != nil {
		log.Fatal(err)
	}
	if ww != nil {
		if err := ww.Flush(); err != nil {
			log.Fatal(err)
		}
	}
	f.Close()
	cf.Close()
	fmt.Fprintf(os.Stderr, "gencorpus: %d bytes, %d codes planted\n", n, planted)
}
