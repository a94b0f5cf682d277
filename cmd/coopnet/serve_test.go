package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// coopnetBinary builds the real command once per test run.
func coopnetBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "coopnet-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "coopnet")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func runCLI(t *testing.T, env []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(coopnetBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestServeAdminAndGracefulShutdown runs the real binary: members and a
// token made with "coopnet admin", then "coopnet serve" answering with that
// token, and SIGTERM in the middle of a request: the request finishes, the
// process exits 0 and stops listening.
func TestServeAdminAndGracefulShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // made by coopnet
	addr, metricsAddr := freePort(t), freePort(t)
	env := []string{"COOPNET_REGION=bretagne", "COOPNET_DATA_DIR=" + dir, "COOPNET_LISTEN=" + addr, "COOPNET_LOG_FORMAT=json",
		"COOPNET_METRICS_LISTEN=" + metricsAddr}

	out, stderr, err := runCLI(t, env, "", "migrate")
	if err != nil || !strings.Contains(out, "applied 0001_init") {
		t.Fatalf("migrate: %v %s %s", err, out, stderr)
	}
	out, stderr, err = runCLI(t, env, "un mot de passe\n", "admin", "member", "add", "--email", "marie@bzh.test", "--name", "Marie Le Gall",
		"--role", "technician", "--password-file", "-", "--skill", "website:4", "--skill", "email:3", "--postcode", "35000",
		"--remote-ok", "--weekly-hours", "32")
	if err != nil {
		t.Fatalf("member add: %v %s", err, stderr)
	}
	var m struct {
		FullHandle string `json:"full_handle"`
		Region     string
		Skills     []struct{ Name string }
		RemoteOK   bool `json:"remote_ok"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.FullHandle != "marie@"+addr || m.Region != "bretagne" || len(m.Skills) != 2 || !m.RemoteOK {
		t.Fatalf("member add printed %s (%v)", out, err)
	}
	if _, stderr, err = runCLI(t, env, "", "admin", "member", "add", "--email", "marie@bzh.test", "--name", "X", "--password", "12345678"); err == nil ||
		!strings.Contains(stderr, "already registered") {
		t.Fatalf("duplicate member: %v %s", err, stderr)
	}
	out, _, err = runCLI(t, env, "", "admin", "member", "list")
	var list []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 {
		t.Fatalf("member list: %v %s", err, out)
	}
	token, stderr, err := runCLI(t, env, "", "admin", "token", "--email", "marie@bzh.test")
	token = strings.TrimSpace(token)
	if err != nil || !strings.HasPrefix(token, "cn_") {
		t.Fatalf("token: %v %q %s", err, token, stderr)
	}

	// A token with a label and an expiry; a password reset; a member who
	// leaves.
	if out, stderr, err := runCLI(t, env, "", "admin", "token", "--email", "marie@bzh.test", "--label", "sauvegardes", "--expires", "30d"); err != nil ||
		!strings.HasPrefix(out, "cn_") {
		t.Fatalf("token with an expiry: %v %q %s", err, out, stderr)
	}
	if _, stderr, err := runCLI(t, env, "", "admin", "token", "--email", "marie@bzh.test", "--expires", "5000d"); err == nil ||
		!strings.Contains(stderr, "--expires") {
		t.Fatalf("a token for 5000 days: %v %s", err, stderr)
	}
	if out, stderr, err := runCLI(t, env, "nouveau mot de passe\n", "admin", "member", "password", "--email", "marie@bzh.test",
		"--password-file", "-"); err != nil || !strings.Contains(out, "password changed") {
		t.Fatalf("password reset: %v %s %s", err, out, stderr)
	}
	if _, stderr, err := runCLI(t, env, "court\n", "admin", "member", "password", "--email", "marie@bzh.test", "--password-file", "-"); err == nil ||
		!strings.Contains(stderr, "password") {
		t.Fatalf("a short password reset: %v %s", err, stderr)
	}
	if _, _, err := runCLI(t, env, "un autre mot de passe\n", "admin", "member", "add", "--email", "gwen@bzh.test", "--name", "Gwen",
		"--password-file", "-"); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := runCLI(t, env, "", "admin", "member", "deactivate", "--email", "gwen@bzh.test"); err != nil ||
		!strings.Contains(out, `"active": false`) {
		t.Fatalf("deactivate: %v %s %s", err, out, stderr)
	}
	if _, stderr, err := runCLI(t, env, "", "admin", "token", "--email", "gwen@bzh.test"); err == nil || !strings.Contains(stderr, "left the coop") {
		t.Fatalf("a token for a member who left: %v %s", err, stderr)
	}

	cmd := exec.Command(coopnetBinary(t), "serve")
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("me with the admin token: %v %v", resp, err)
	}
	resp.Body.Close()
	checkPrivateFiles(t, dir, "bretagne")
	// The metrics are served on their own address, not on the public one.
	if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != 403 {
		t.Errorf("/metrics on the public address: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/metrics on the metrics address: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}

	// A request in flight: headers and half of the body sent, then SIGTERM.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"email":"marie@bzh.test","password":"nouveau mot de passe"}`
	fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		addr, len(body), body[:10])
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatalf("the in-flight connection was cut: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("in-flight request: %q %v", status, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM\n%s", logs.String())
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
	for _, want := range []string{`"msg":"node listening"`, `"msg":"shutting down: finishing in-flight requests"`, `"msg":"stopped"`, `"request_id"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

// checkPrivateFiles checks what a node keeps in its data directory: the
// folder, the SQLite database with its WAL, the NATS store and the secret
// of the private keys are for the node's user alone, and the private keys
// in the database are encrypted with that secret.
func checkPrivateFiles(t *testing.T, dir, region string) {
	t.Helper()
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, 0o700}, {filepath.Join(dir, region+".db"), 0o600}, {filepath.Join(dir, region+".db-wal"), 0o600},
		{filepath.Join(dir, "nats"), 0o700}, {filepath.Join(dir, region+".key-secret"), 0o600},
	} {
		st, err := os.Stat(f.path)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("%s is %v, want %v", f.path, st.Mode().Perm(), f.mode)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, region+".db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var plain, sealed int
	if err := db.QueryRow(`SELECT COUNT(*) FILTER (WHERE private_pem LIKE '-----BEGIN%'),
		COUNT(*) FILTER (WHERE private_pem LIKE 'coopnet-enc-v1:%') FROM federation_keys`).Scan(&plain, &sealed); err != nil {
		t.Fatal(err)
	}
	if plain != 0 || sealed == 0 {
		t.Errorf("private keys: %d in the clear, %d encrypted; want none in the clear", plain, sealed)
	}
}
