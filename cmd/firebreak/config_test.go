package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/services/escalation"
)

// TestApplyMapsServerErrorsToLines checks that problems only the server
// finds are printed at the lines of the file, like local ones.
func TestApplyMapsServerErrorsToLines(t *testing.T) {
	t.Parallel()
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.String()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":"invalid_config","message":"invalid configuration","details":{"errors":[
			{"field":"users[0].contact_methods[0].address","problem":"rejected by the server"},
			{"field":"policies[3]","problem":"not in the file"}]}}}`)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "fb.yaml")
	if err := os.WriteFile(file, []byte("users:\n  - id: alice\n    contact_methods:\n      - name: slack\n        type: slack\n        address: U1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"apply", "-f", file, "--dry-run", "--server", srv.URL, "--token", "t"}, &stdout, &stderr)
	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	if gotPath != "/api/v1/config?dry_run=true" {
		t.Errorf("request to %s", gotPath)
	}
	want := file + ":6: users[0].contact_methods[0].address: rejected by the server\n" +
		file + ": policies[3]: not in the file\n" + // no line: the file has no policies
		"error: " + file + ": 2 problems; nothing applied\n"
	if stderr.String() != want {
		t.Errorf("stderr =\n%s\nwant\n%s", stderr.String(), want)
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout = %q", stdout.String())
	}
}

func TestPrintChanges(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	printChanges(&b, nil)
	printChanges(&b, []escalation.Change{
		{Kind: "policy", Name: "checkout-primary", Op: "create"},
		{Kind: "service", Name: "checkout", Op: "update", Fields: []string{"escalation_policy", "ack_timeout"}},
		{Kind: "user", Name: "bob", Op: "delete"},
		{Kind: "maintenance_window", Name: "upgrade", Op: "delete"},
		{Kind: "user", Name: "eve", Op: "rename"},
	})
	want := `no changes
+ policy checkout-primary
~ service checkout (escalation_policy, ack_timeout)
- user bob
- maintenance window upgrade
? user eve
`
	if b.String() != want {
		t.Errorf("printChanges =\n%s\nwant\n%s", b.String(), want)
	}
}
