package normalize

// Default limits, used for every Limits field that is zero or negative.
const (
	// DefaultMaxMessageBytes is how much of a raw message is read at most.
	DefaultMaxMessageBytes = 64 << 20
	// DefaultMaxPartBytes is how much decoded text one part keeps at most.
	DefaultMaxPartBytes = 8 << 20
	// DefaultMaxTextBytes is how much decoded text one ticket keeps at most.
	DefaultMaxTextBytes = 32 << 20
	// DefaultMaxDepth is how deep multipart and message/rfc822 parts nest at
	// most.
	DefaultMaxDepth = 32
	// DefaultMaxParts is how many MIME parts are visited, and how many ticket
	// parts are made, at most.
	DefaultMaxParts = 1000
	// DefaultMaxHeaderFieldBytes is how long one header field may be after
	// unfolding, its name included.
	DefaultMaxHeaderFieldBytes = 8 << 10
	// DefaultMaxHeaderBytes is how many bytes of header fields one header
	// block keeps.
	DefaultMaxHeaderBytes = 256 << 10
	// DefaultMaxHeaderFields is how many fields one header block keeps.
	DefaultMaxHeaderFields = 1000
)

// Limits bound the work and memory spent on one input. A zero or negative
// field means its default. Reaching a limit never fails the normalization:
// the ticket keeps what was read before it and says so in Problems.
type Limits struct {
	// MaxMessageBytes is how many raw bytes are read from the input at most;
	// the rest is left unread.
	MaxMessageBytes int64
	// MaxPartBytes is how many bytes of decoded text one part keeps; the
	// part is marked Truncated and the rest of it is skipped.
	MaxPartBytes int64
	// MaxTextBytes is how many bytes of text all parts of a ticket keep
	// together, subject included.
	MaxTextBytes int64
	// MaxDepth is how many multipart or message/rfc822 levels are entered;
	// the top-level entity is depth 0. Deeper parts are skipped unread.
	MaxDepth int
	// MaxParts is how many MIME parts are visited and how many ticket parts
	// are made at most.
	MaxParts int
	// MaxHeaderFieldBytes is how long one header field may be after
	// unfolding; a longer one is cut to this length (References keeps its
	// end, where the nearest parents are; every other field its start).
	MaxHeaderFieldBytes int
	// MaxHeaderBytes and MaxHeaderFields bound one header block, the
	// message's or a forwarded message's. Fields past either bound are
	// skipped, except the first of each field that reading, threading and
	// loop safety need (From, Subject, Content-Type, Auto-Submitted …).
	MaxHeaderBytes  int
	MaxHeaderFields int
}

// withDefaults returns l with every unset field at its default.
func (l Limits) withDefaults() Limits {
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.MaxPartBytes <= 0 {
		l.MaxPartBytes = DefaultMaxPartBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = DefaultMaxTextBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxHeaderFieldBytes <= 0 {
		l.MaxHeaderFieldBytes = DefaultMaxHeaderFieldBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderFields <= 0 {
		l.MaxHeaderFields = DefaultMaxHeaderFields
	}
	return l
}
