package catalog

import "strconv"

// The ngrok agent's local API (http://127.0.0.1:4040/api, and the SDK
// wrappers that drive it: pyngrok, the Node and Ruby packages) answers
// errors with numbers of its own:
//
//	{"error_code":103,"status_code":502,"msg":"failed to start tunnel","details":{"err":"..."}}
//
// They are a separate namespace from ERR_NGROK_ codes: agent API 103
// means the agent could not start a tunnel, while ERR_NGROK_103 means a
// suspended account. The real cause, when there is one, is in
// details.err, often with an ERR_NGROK_ code of its own.

// AgentAPIEntry is what the project knows about one agent API number.
type AgentAPIEntry struct {
	// Number is the agent API's error_code.
	Number int `json:"number"`
	// Name is "agent-api:<n>": never spelled like an ngrok code.
	Name string `json:"name"`
	// Summary says what the number means, in our words.
	Summary string `json:"summary"`
	// Hint is a first step to suggest.
	Hint string `json:"hint,omitempty"`
	// Known is false for numbers the table does not have.
	Known bool `json:"known"`
}

// agentAPITable holds the agent API numbers seen in customers' reports,
// in our words.
var agentAPITable = map[int]AgentAPIEntry{
	102: {Summary: "The agent's local API refused a tunnel definition: a field of the request (or of the named tunnel in the config file) is missing or not valid.",
		Hint: "Read details.err for the field at fault, fix the tunnel definition, and start the tunnel again."},
	103: {Summary: "The agent's local API could not start the requested tunnel; the ngrok service or the agent refused it, and details.err says why.",
		Hint: "Look in details.err for the real cause (often an ERR_NGROK_ code such as a session limit or an authtoken problem) and answer that."},
	104: {Summary: "The agent's local API was asked to start a tunnel before the agent had finished connecting to the ngrok service.",
		Hint: "Wait until the agent reports its session as established (or retry after a second) before calling the API; check the agent's log for a connection error."},
}

// AgentAPI returns the entry for agent API number n. Lookup never fails:
// an unknown number gets a generic summary and Known == false.
func AgentAPI(n int) AgentAPIEntry {
	e, ok := agentAPITable[n]
	if !ok {
		e = AgentAPIEntry{Summary: "An error number of the ngrok agent's local API that this catalog does not describe; it is not an ERR_NGROK_ code.",
			Hint: "Read the msg and details.err fields next to it for the cause."}
	}
	e.Number, e.Name, e.Known = n, "agent-api:"+strconv.Itoa(n), ok
	return e
}
