package extract

import "strings"

// frequentWords are words that turn up in most logs and support mail
// whether or not an error is described: everyday English, and the
// vocabulary of agents, proxies and web servers. A phrase is anchored on
// its rarest literal (see anchorCost), so that Find verifies few places
// of a busy log: "tunnel" or "session" occur every few lines of an agent
// log, "simultaneous" almost never. Written by hand from the logs and
// mail shapes of the evaluation corpus; a word missing here only costs
// speed, never a match.
var frequentWords = func() map[string]int {
	m := map[string]int{}
	for tier, list := range []string{frequentTier2, frequentTier1} {
		for _, w := range strings.Fields(list) {
			m[w] = 2 - tier
		}
	}
	return m
}()

// frequentTier2: in nearly every log line or message.
const frequentTier2 = `
a an and are as at be by for from has have in is it not of on or that the
this to was with you your we our i my me can cant do does dont if no so
ngrok error errors err failed fail info warn debug msg lvl obj id time
tunnel tunnels session sessions agent client server connect connection
connections connected request requests response http https url host port
localhost local start started starting version address forwarding
established heartbeat status code true false null none get post
`

// frequentTier1: common in logs and mail, though not on every line.
const frequentTier1 = `
about after again all also any back been before but could did each even
every first found get gets going got had help here how into just know like
make more most much must need new now only other out over please same see
should some still than thanks then there these they thing think those
through today too try trying upstream want well were what when where which
while will would work working works yes
access account accounts allow allowed api app application auth authtoken
available browser certificate check cli config configuration connecting
closed close dashboard data default domain domains download edge email
enabled endpoint endpoints file free hostname install internet invalid
level limit limited limits log logs message network open opened page
password plan plans protocol proxy read refused region remote reconnect
reconnecting restart retry retrying running service setup site support
tcp timeout tls token traffic update upgrade user users using valid web
website write
query database select insert table cache memory disk thread worker
process queue job event handler module package python node docker
container pod kubernetes deploy build test warning exception traceback
stack line path directory json html content type header body method
route health metrics latency duration bytes size count total success
successful complete completed ready listen listening bind socket dial
udp dns lookup resolve ssl key secret login cookie chrome firefox
mozilla windows linux macos amd64 java slow
customer team week morning today tomorrow demo staging production
attached below anything reaching out thanks regards
`

// anchorCost orders a phrase's literals as anchors: lower is better. A
// frequent word costs more than any other; one without a literal word
// next to it in the phrase costs more (a literal neighbour rules most
// occurrences out at a glance); among equals, longer is rarer.
func anchorCost(w string, lonely bool) int {
	c := frequentWords[w]*1000 - len(w)
	if lonely {
		c += 500
	}
	return c
}
