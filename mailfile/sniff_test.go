package mailfile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		head string
		want Kind
	}{
		{"eml", "From: a@example.org\nTo: b@example.org\nSubject: hi\n\nbody\n", Message},
		{"eml crlf", "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n", Message},
		{"eml with bom", "\xef\xbb\xbfSubject: hi\nDate: Mon, 1 Dec 2026 10:00:00 +0000\n\nbody", Message},
		{"received first, folded", "Received: from a\n\tby b; Mon, 1 Dec 2026\nX-Spam: no\nMessage-ID: <x@y>\n\nbody", Message},
		{"delivered-to and x headers", "Delivered-To: s@example.org\nX-Original-To: s@example.org\n\n", Message},
		{"header block longer than head", "Return-Path: <a@b>\nDKIM-Signature: v=1;\n b=AAAAAAAA", Message},
		{"lower-case names", "from: a@b\nsubject: x\n\n", Message},
		{"mbox", "From a@example.org Mon Dec  1 10:00:00 2026\nFrom: a@example.org\nSubject: x\n\nbody\n", Mbox},
		{"mbox crlf", "From a@example.org Mon Dec  1 10:00:00 2026\r\nFrom: a@example.org\r\nSubject: x\r\n\r\n", Mbox},
		{"log with timestamp", "2026-11-24 ERROR: x\n2026-11-24 INFO: y\n", Text},
		{"log with level first", "ERROR: foo\nWARN: bar\n\nmore\n", Text},
		{"one known header only", "Subject: notes for the meeting\n\nagenda\n", Text},
		{"unknown names only", "ERROR: foo\nCode: ERR_NGROK_108\n\n", Text},
		{"known name after a non-header line", "ERROR: foo\nthe agent said\nFrom: x\n", Text},
		{"yaml", "version: \"3\"\nagent:\n  authtoken: x\n", Text},
		{"from sentence", "From the logs we can see ERR_NGROK_108\nsecond line\n", Text},
		{"continuation first", " From: x\nTo: y\n\n", Text},
		{"fold without blank inside the block", "Received: from a\nFrom: a@b\nX-Spam-Report: a=1;\nb=2;c=3\nSubject: x\n\nbody\n", Message},
		{"fold without blank before the block is one", "ERROR: foo\nmore text\nFrom: x\nTo: y\n\n", Text},
		{"header line longer than head", "From: a@b\nDKIM-Signature: v=1; b=" + strings.Repeat("A", 5000), Message},
		{"one field cut by the head is not enough", "Subject: " + strings.Repeat("A", 5000), Text},
		{"long header line inside the head", "X-Report: " + strings.Repeat("A", 5000) + "\nFrom: a@b\nSubject: x\n\nbody", Message},
		{"empty", "", Text},
		{"binary", "\x89PNG\r\n\x1a\n\x00\x00", Text},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Sniff([]byte(tt.head)), "got %s", Sniff([]byte(tt.head)))
		})
	}
}
