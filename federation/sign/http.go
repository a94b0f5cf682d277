package sign

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-fed/httpsig"
)

// signedHeaders are what coopnet signs on a POST, and requires signed on
// every POST it receives; a GET has no digest.
var (
	postHeaders = []string{httpsig.RequestTarget, "host", "date", "digest"}
	getHeaders  = []string{httpsig.RequestTarget, "host", "date"}
)

// Request signs r in place with the key pair of keyID: it sets Date (now) and
// Host, and for a body, Digest. A new signer each time: go-fed's signers
// are not safe for concurrent use, and making one is cheap.
func Request(r *http.Request, kp *KeyPair, keyID string, body []byte, now time.Time) error {
	headers := getHeaders
	if body != nil {
		headers = postHeaders
	}
	s, _, err := NewSigner(headers)
	if err != nil {
		return fmt.Errorf("federation: signer: %w", err)
	}
	r.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	r.Header.Set("Host", r.URL.Host)
	r.Header.Del("Digest")
	if err := s.SignRequest(kp.Private, keyID, r, body); err != nil {
		return fmt.Errorf("federation: Request: %w", err)
	}
	return nil
}

func NewSigner(headers []string) (httpsig.Signer, httpsig.Algorithm, error) {
	return httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256, headers, httpsig.Signature, 0)
}

// Params are the parameters of a Signature header.
type Params struct {
	KeyID, Algorithm, Signature string
	Headers                     []string
}

// ParseHeader reads `keyId="…",algorithm="…",headers="…",signature="…"`
// strictly: each parameter once, values quoted, keyId and signature present.
func ParseHeader(h string) (Params, error) {
	var p Params
	if h == "" {
		return p, errors.New("no Signature header")
	}
	if len(h) > 8192 {
		return p, errors.New("Signature header too long")
	}
	seen := map[string]bool{}
	rest := strings.TrimSpace(h)
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return p, errors.New("Signature header: expected name=\"value\"")
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = rest[eq+1:]
		if !strings.HasPrefix(rest, `"`) {
			return p, fmt.Errorf("Signature header: %s must be quoted", name)
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return p, fmt.Errorf("Signature header: %s is not closed", name)
		}
		val := rest[1 : 1+end]
		rest = strings.TrimSpace(rest[end+2:])
		if rest != "" {
			if rest[0] != ',' {
				return p, errors.New("Signature header: parameters must be separated by commas")
			}
			rest = strings.TrimSpace(rest[1:])
		}
		if seen[name] {
			return p, fmt.Errorf("Signature header: %s given twice", name)
		}
		seen[name] = true
		switch name {
		case "keyid":
			p.KeyID = val
		case "algorithm":
			p.Algorithm = val
		case "headers":
			p.Headers = strings.Fields(strings.ToLower(val))
		case "signature":
			p.Signature = val
		}
	}
	if p.KeyID == "" || p.Signature == "" {
		return p, errors.New("Signature header: keyId and signature are required")
	}
	if !seen["headers"] {
		p.Headers = []string{"date"} // the draft's default
	}
	if p.Algorithm != "" && p.Algorithm != "rsa-sha256" && p.Algorithm != "hs2019" {
		return p, fmt.Errorf("Signature header: algorithm %q: only rsa-sha256 and hs2019 (RSA) are accepted", p.Algorithm)
	}
	return p, nil
}

// KeyHost is the host (with port) of a keyId, the identity the allow-list
// checks before anything is fetched.
func KeyHost(keyID string) (string, error) {
	u, err := url.Parse(keyID)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("keyId %q is not an http(s) URL", keyID)
	}
	return strings.ToLower(u.Host), nil
}

// CheckDigest compares the Digest header with the body's SHA-256.
func CheckDigest(h string, body []byte) error {
	if h == "" {
		return errors.New("no Digest header")
	}
	want := BodyDigest(body)
	for _, part := range strings.Split(h, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(alg, "SHA-256") {
			if subtle.ConstantTimeCompare([]byte(val), []byte(want)) == 1 {
				return nil
			}
			return errors.New("Digest does not match the body")
		}
	}
	return errors.New("Digest has no SHA-256 value")
}

// CheckDate accepts a Date within skew of now.
func CheckDate(h string, now time.Time, skew time.Duration) error {
	if h == "" {
		return errors.New("no Date header")
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return fmt.Errorf("Date %q is not an HTTP date", h)
	}
	if d := now.Sub(t); d > skew || d < -skew {
		return fmt.Errorf("Date %s is more than %s away from this node's clock", h, skew)
	}
	return nil
}

// RequireSigned checks that every header coopnet needs signed is.
func RequireSigned(p Params, post bool) error {
	need := getHeaders
	if post {
		need = postHeaders
	}
	have := map[string]bool{}
	for _, h := range p.Headers {
		have[h] = true
	}
	for _, h := range need {
		if !have[h] {
			return fmt.Errorf("the signature must cover %q", h)
		}
	}
	return nil
}

// Verify checks r's signature with key, with and without the query
// string (servers disagree on whether (request-target) has it).
func Verify(r *http.Request, key any) error {
	v, err := httpsig.NewVerifier(r)
	if err != nil {
		return err
	}
	if err = v.Verify(key, httpsig.RSA_SHA256); err == nil || r.URL.RawQuery == "" {
		return err
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = ""
	v2, err2 := httpsig.NewVerifier(r2)
	if err2 != nil {
		return err
	}
	if v2.Verify(key, httpsig.RSA_SHA256) == nil {
		return nil
	}
	return err
}

// BodyDigest is the base64 SHA-256 of a body, as the Digest header has it.
func BodyDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(sum[:])
}
