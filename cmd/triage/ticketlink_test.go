package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/ticket"
)

func TestTicketLink(t *testing.T) {
	all := &config.Config{
		Zendesk:   &config.Zendesk{Subdomain: "acme"},
		Freshdesk: &config.Freshdesk{Domain: "acme"},
		Front:     &config.Front{},
		HelpScout: &config.HelpScout{},
	}
	tests := []struct {
		name        string
		cfg         *config.Config
		id          string
		label, want string
	}{
		{"zendesk", all, "zendesk:acme/42/7", "Zendesk", "https://acme.zendesk.com/agent/tickets/42"},
		{"zendesk base_url", &config.Config{Zendesk: &config.Zendesk{Subdomain: "acme", BaseURL: "https://help.acme.example/"}},
			"zendesk:acme/42/7", "Zendesk", "https://help.acme.example/agent/tickets/42"},
		{"zendesk, another account", all, "zendesk:other/42/7", "", ""},
		{"freshdesk", all, "freshdesk:acme/9/0", "Freshdesk", "https://acme.freshdesk.com/a/tickets/9"},
		{"front", all, "front:front/cnv_1a/msg_2b", "Front", "https://app.frontapp.com/open/cnv_1a"},
		{"front, named account", &config.Config{Front: &config.Front{Account: "eu"}}, "front:eu/cnv_1a/msg_2b", "Front", "https://app.frontapp.com/open/cnv_1a"},
		{"front, another account", all, "front:eu/cnv_1a/msg_2b", "", ""},
		{"help scout", all, "helpscout:77/2391938111/5", "Help Scout", "https://secure.helpscout.net/conversation/2391938111"},
		{"mail", all, "<abc@example.com>", "", ""},
		{"section not configured", &config.Config{Front: &config.Front{}}, "zendesk:acme/42/7", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link := ticketLink(tt.cfg)
			if !assert.NotNil(t, link) {
				return
			}
			label, u := link(ticket.Ticket{ID: tt.id})
			assert.Equal(t, tt.label, label)
			assert.Equal(t, tt.want, u)
		})
	}
	assert.Nil(t, ticketLink(&config.Config{}), "no helpdesk section, no hook")
}
