package rig

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/coopnet/coopnet/webui/web"
)

// Page is a page of a list as the API answers it.
type Page[T any] = web.Page[T]

// Client calls one node's API as one member (or nobody).
type Client struct {
	t     testing.TB
	c     *Coop
	url   string
	token string
}

// As is a client of the member's own node, with their token.
func (c *Coop) As(email string) *Client {
	return &Client{t: c.T, c: c, url: c.Node(RegionOf(email)).URL, token: c.Token(email)}
}

// Anonymous is a client of the region's node without a token.
func (c *Coop) Anonymous(region string) *Client {
	return &Client{t: c.T, c: c, url: c.Node(region).URL}
}

// On is the same member calling another region's node (which does not
// know their token: a test of what it refuses).
func (cl *Client) On(region string) *Client {
	out := *cl
	out.url = cl.c.Node(region).URL
	return &out
}

// Response is an API answer: its status and raw body.
type Response struct {
	t      testing.TB
	what   string
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request with body (nil for none) encoded as JSON.
func (cl *Client) Do(method, path string, body any) *Response {
	cl.t.Helper()
	return send(cl.t, method, cl.url+path, cl.token, body)
}

// Upload sends a multipart form (the attachments' POST): text fields, then
// files by name.
func (cl *Client) Upload(path string, fields map[string]string, files map[string][]byte) *Response {
	cl.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	for name, b := range files {
		fw, err := w.CreateFormFile("file", name)
		if err != nil {
			cl.t.Fatal(err)
		}
		fw.Write(b)
	}
	w.Close()
	req, err := http.NewRequest(http.MethodPost, cl.url+path, &buf)
	if err != nil {
		cl.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+cl.token)
	return do(cl.t, req)
}

// Get sends a GET and keeps the answer's bytes as they are (a file).
func (cl *Client) Get(path string) *Response {
	cl.t.Helper()
	req, err := http.NewRequest(http.MethodGet, cl.url+path, nil)
	if err != nil {
		cl.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cl.token)
	return do(cl.t, req)
}

func do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", req.Method, req.URL, err)
	}
	return &Response{t: t, what: req.Method + " " + req.URL.String(), Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func send(t testing.TB, method, url, token string, body any) *Response {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			t.Fatalf("%s %s: encode the body: %v", method, url, err)
		}
	}
	req, err := http.NewRequest(method, url, &buf)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, url, err)
	}
	return &Response{t: t, what: method + " " + url, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Must decodes the answer into the API's own type T, strictly (a field T
// does not know fails the test: the API and its types agree), after
// checking its status is want.
func Must[T any](r *Response, want int) T {
	r.t.Helper()
	if r.Status != want {
		r.t.Fatalf("%s: %d, want %d: %s", r.what, r.Status, want, r.Body)
	}
	return Decode[T](r.t, r.what, r.Body)
}

// Decode decodes an answer's body strictly into the API's own type T: a
// field T does not know fails the test. what names the request.
func Decode[T any](t testing.TB, what string, body []byte) T {
	t.Helper()
	var out T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s: the answer does not decode into %T: %v: %s", what, out, err, body)
	}
	return out
}

// Problem is an API error (application/problem+json).
type Problem = web.Problem

// Refused checks that the answer is a problem with status want and
// returns it.
func Refused(r *Response, want int) Problem {
	r.t.Helper()
	if ct := r.Header.Get("Content-Type"); r.Status == want && ct != "application/problem+json" {
		r.t.Fatalf("%s: %d answered as %q, not application/problem+json: %s", r.what, r.Status, ct, r.Body)
	}
	return Must[Problem](r, want)
}

// Typed calls url with token ("" for none) and decodes the answer into
// the API's own type T (see Must), after checking its status is want.
func Typed[T any](t testing.TB, method, url, token string, body any, want int) T {
	t.Helper()
	return Must[T](send(t, method, url, token, body), want)
}

// Call calls url with token ("" for none), fails the test unless it
// answers want, and returns the body decoded loosely.
func Call(t testing.TB, method, url, token string, body any, want int) map[string]any {
	t.Helper()
	var out map[string]any
	if code := Status(t, method, url, token, body, &out); code != want {
		t.Fatalf("%s %s: %d, want %d: %v", method, url, code, want, out)
	}
	return out
}

// Status calls url and decodes the answer loosely into out; it returns
// the status.
func Status(t testing.TB, method, url, token string, body any, out *map[string]any) int {
	t.Helper()
	r := send(t, method, url, token, body)
	_ = json.Unmarshal(r.Body, out)
	return r.Status
}
