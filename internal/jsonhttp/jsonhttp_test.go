package jsonhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDo(t *testing.T) {
	type seen struct {
		method, path, query, accept, ctype, auth, body string
	}
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Accept"), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)}
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Link", "next")
			_, _ = io.WriteString(w, `{"name":"ana"}`)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/notjson":
			_, _ = io.WriteString(w, `<html>`)
		case "/huge":
			_, _ = io.WriteString(w, `{"name":"`+strings.Repeat("x", MaxAnswer)+`"}`)
		case "/limited":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":"slow down"}`)
		}
	}))
	defer srv.Close()
	type out struct{ Name string }
	for _, tc := range []struct {
		name    string
		req     Request
		want    seen
		decoded string
		err     string
		status  int
	}{
		{name: "a GET decodes its answer",
			req:  Request{Vendor: "v", Method: "GET", URL: srv.URL + "/ok?page=2", Header: http.Header{"Authorization": {"Bearer t"}}},
			want: seen{method: "GET", path: "/ok", query: "page=2", accept: "application/json", auth: "Bearer t"}, decoded: "ana"},
		{name: "a body is sent as JSON",
			req:  Request{Vendor: "v", Method: "PUT", URL: srv.URL + "/ok", Body: map[string]int{"a": 1}},
			want: seen{method: "PUT", path: "/ok", accept: "application/json", ctype: "application/json", body: `{"a":1}`}, decoded: "ana"},
		{name: "a given Content-Type stays",
			req:  Request{Vendor: "v", Method: "POST", URL: srv.URL + "/ok", Body: 1, Header: http.Header{"Content-Type": {"application/json; charset=UTF-8"}}},
			want: seen{method: "POST", path: "/ok", accept: "application/json", ctype: "application/json; charset=UTF-8", body: "1"}, decoded: "ana"},
		{name: "an empty answer where a document was expected",
			req:  Request{Vendor: "v", Method: "DELETE", URL: srv.URL + "/empty"},
			want: seen{method: "DELETE", path: "/empty", accept: "application/json"},
			err:  "v: DELETE /empty: the answer is empty (HTTP 204)"},
		{name: "an answer that is not JSON",
			req:  Request{Vendor: "v", Method: "GET", URL: srv.URL + "/notjson?x=secret"},
			want: seen{method: "GET", path: "/notjson", query: "x=secret", accept: "application/json"},
			err:  "v: GET /notjson: the answer is not the JSON expected"},
		{name: "an answer past the bound is cut and fails",
			req:  Request{Vendor: "v", Method: "GET", URL: srv.URL + "/huge"},
			want: seen{method: "GET", path: "/huge", accept: "application/json"},
			err:  "v: GET /huge: the answer is not the JSON expected"},
		{name: "another status comes back whole",
			req:  Request{Vendor: "v", Method: "GET", URL: srv.URL + "/limited"},
			want: seen{method: "GET", path: "/limited", accept: "application/json"}, status: 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = seen{}
			var o out
			hdr, err := Do(context.Background(), srv.Client(), tc.req, &o)
			assert.Equal(t, tc.want, got)
			switch {
			case tc.status != 0:
				var se *StatusError
				require.True(t, errors.As(err, &se), "%v", err)
				assert.Equal(t, tc.status, se.Status)
				assert.Equal(t, "7", se.Header.Get("Retry-After"))
				assert.JSONEq(t, `{"error":"slow down"}`, string(se.Body))
			case tc.err != "":
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), "secret", "errors show the path, not the query")
			default:
				require.NoError(t, err)
				assert.Equal(t, tc.decoded, o.Name)
				assert.NotNil(t, hdr)
			}
		})
	}

	t.Run("an empty answer is fine when none was expected", func(t *testing.T) {
		_, err := Do(context.Background(), srv.Client(), Request{Vendor: "v", Method: "DELETE", URL: srv.URL + "/empty"}, nil)
		assert.NoError(t, err)
	})
	t.Run("nothing is sent when the body does not encode", func(t *testing.T) {
		got = seen{}
		_, err := Do(context.Background(), srv.Client(), Request{Vendor: "v", Method: "POST", URL: srv.URL + "/ok", Body: make(chan int)}, nil)
		assert.ErrorContains(t, err, "v: POST /ok: encode the request")
		assert.Equal(t, seen{}, got)
	})
	t.Run("a transport error names the call", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		_, err := Do(context.Background(), http.DefaultClient, Request{Vendor: "v", Method: "GET", URL: dead.URL + "/me"}, nil)
		assert.ErrorContains(t, err, "v: GET /me: ")
	})
}

func TestPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.example/api/v2/tickets/7.json?include=users": "/api/v2/tickets/7.json",
		"/api/v2/tickets?page=2":                                "/api/v2/tickets",
		"/me":                                                   "/me",
		"https://x.example":                                     "https://x.example",
	} {
		assert.Equal(t, want, Path(in), in)
	}
}
