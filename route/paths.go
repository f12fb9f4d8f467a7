package route

import (
	"slices"
	"strings"
	"text/template/parse"

	"github.com/triage-bot/triage/ticket"
)

// PathTarget is an action whose target is a file path (a jsonl action),
// as written, for checks such as `triage config check`.
type PathTarget struct {
	// File and Line place the action in the configuration.
	File string
	Line int
	// Rule is the rule's name, or DefaultRule.
	Rule string
	// Target is the target as written; Template tells whether it is one.
	Target   string
	Template bool
	// CustomerFields are the template fields the target uses that a
	// customer writes (.Ticket.From, .Ticket.Subject, …), as written in
	// the template. Codes and categories (.Primary, .Codes,
	// .Ticket.PrimaryCategory, …) come from the catalog and are not listed.
	CustomerFields []string
}

// pathKinds are the action kinds whose target is a file path.
var pathKinds = []string{ticket.KindJSONL}

// safeTicketFields are the .Ticket fields that do not carry customer
// text: the source kind and what the catalog says about the codes.
var safeTicketFields = []string{"Source", "PrimaryCategory", "Codes", "Unknown"}

// PathTargets lists the rules' (and the default's) path targets, in order.
func (r *Rules) PathTargets() []PathTarget { return r.Targets(pathKinds...) }

// Targets lists the targets of the rules' (and the default's) actions of
// the given kinds, in order, described as PathTargets are.
func (r *Rules) Targets(kinds ...string) []PathTarget {
	var out []PathTarget
	add := func(rule string, acts []*action) {
		for _, a := range acts {
			if !slices.Contains(kinds, a.kind) {
				continue
			}
			pt := PathTarget{File: r.file, Line: a.line, Rule: rule, Target: a.targetText, Template: a.target != nil}
			if a.target != nil && a.target.Tree != nil {
				pt.CustomerFields = customerFields(a.target.Tree.Root)
			}
			out = append(out, pt)
		}
	}
	for _, ru := range r.rules {
		add(ru.name, ru.actions)
	}
	add(DefaultRule, r.def)
	return out
}

// customerFields walks a template and returns the customer-written fields
// it uses: any .Ticket field but the safe ones, .Ticket itself passed
// whole (to with, range or a function), and a code's .Phrase.
func customerFields(n parse.Node) []string {
	var out []string
	note := func(ident []string) {
		if i := slices.Index(ident, "Phrase"); i >= 0 {
			// A code's phrase is the customer's words, wherever the
			// code comes from (.Codes, .LooksLike, a range over them).
			if name := "." + strings.Join(ident[:i+1], "."); !slices.Contains(out, name) {
				out = append(out, name)
			}
			return
		}
		if len(ident) == 0 || ident[0] != "Ticket" {
			return
		}
		if len(ident) > 1 && slices.Contains(safeTicketFields, ident[1]) {
			return
		}
		name := "." + strings.Join(ident, ".")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case nil:
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			note(n.Ident)
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				note(n.Ident[1:])
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		}
	}
	walk(n)
	return out
}
