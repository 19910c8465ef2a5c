package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/firebreak-dev/firebreak/internal/client"
)

// TestMain lets the test binary act as the firebreak command: testscript
// puts a copy named "firebreak" on the scripts' PATH.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"firebreak": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// TestScript runs the CLI scripts in testdata/script. Besides the standard
// commands they have:
//
//	devstart             start `firebreak dev` on $WORK/data in the background and
//	                     point FIREBREAK_SERVER and FIREBREAK_TOKEN at it
//	devstop              stop it with SIGINT and check that it exits cleanly
//	exits N prog args... run prog and require exit code N (stdout and stderr
//	                     are kept for the following matches)
//	waitincident REF [N] wait until incident REF exists (with at least N alerts)
func TestScript(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Values[devKey{}] = &devSlot{}
			if os.Getenv("GORACE") == "" {
				// Under -race every successful command would otherwise
				// sleep a second at exit.
				env.Setenv("GORACE", "atexit_sleep_ms=10")
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"devstart":     cmdDevStart,
			"devstop":      cmdDevStop,
			"exits":        cmdExits,
			"waitincident": cmdWaitIncident,
		},
	})
}

// devKey is the key of a script's devSlot in its Values.
type devKey struct{}

// devSlot holds the `firebreak dev` a script started last.
type devSlot struct{ p *devProc }

// devProc is a `firebreak dev` running under a script.
type devProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid once done is closed
}

// syncBuffer is a bytes.Buffer that the process's output goroutines and the
// script may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTimeout bounds how long `firebreak dev` may take to become ready.
const startTimeout = 20 * time.Second

func cmdDevStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: devstart")
	}
	slot := ts.Value(devKey{}).(*devSlot)
	if p := slot.p; p != nil {
		select {
		case <-p.done:
		default:
			ts.Fatalf("devstart: firebreak dev is already running")
		}
	}
	work := ts.Getenv("WORK")
	dataDir := filepath.Join(work, "data")
	// A dev.json left by an earlier run would point at a dead server.
	if err := os.Remove(filepath.Join(dataDir, "dev.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		ts.Fatalf("devstart: %v", err)
	}
	bin, err := exec.LookPath("firebreak")
	ts.Check(err)
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
		"--nats-listen", "", "--sample=false", "--log-level", "error")
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + ts.Getenv("PATH"), "HOME=" + ts.Getenv("HOME"), "TMPDIR=" + ts.Getenv("TMPDIR")}
	if v := ts.Getenv("GORACE"); v != "" {
		cmd.Env = append(cmd.Env, "GORACE="+v)
	}
	p := &devProc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	ts.Check(cmd.Start())
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	slot.p = p
	ts.Defer(func() { p.stop() })

	info, err := waitDev(dataDir, cmd.Process.Pid, p.done)
	if err != nil {
		p.stop()
		ts.Fatalf("devstart: %v\n[firebreak dev output]\n%s", err, p.out.String())
	}
	tok, err := os.ReadFile(info.TokenFile)
	ts.Check(err)
	ts.Setenv("FIREBREAK_SERVER", info.HTTPURL)
	ts.Setenv("FIREBREAK_TOKEN", strings.TrimSpace(string(tok)))
}

// waitDev waits until the `firebreak dev` with the given pid has written
// dev.json and answers /readyz.
func waitDev(dataDir string, pid int, exited <-chan struct{}) (DevInfo, error) {
	deadline := time.Now().Add(startTimeout)
	var info DevInfo
	for {
		select {
		case <-exited:
			return info, errors.New("firebreak dev exited")
		default:
		}
		if time.Now().After(deadline) {
			return info, fmt.Errorf("not ready within %s", startTimeout)
		}
		if info.HTTPURL == "" {
			b, err := os.ReadFile(filepath.Join(dataDir, "dev.json"))
			if err == nil && json.Unmarshal(b, &info) == nil && info.PID != pid {
				info = DevInfo{}
			}
		}
		if info.HTTPURL != "" && ready(info.HTTPURL) {
			return info, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func ready(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop interrupts the process and waits for it, killing it if it does not
// drain in time. It reports how the process ended.
func (p *devProc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return p.err
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("did not stop within 15s after SIGINT; killed")
	}
}

func cmdDevStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: devstop")
	}
	p := ts.Value(devKey{}).(*devSlot).p
	if p == nil {
		ts.Fatalf("devstop: no devstart before")
	}
	if err := p.stop(); err != nil {
		ts.Fatalf("devstop: firebreak dev: %v\n[firebreak dev output]\n%s", err, p.out.String())
	}
	if out := p.out.String(); !strings.Contains(out, "firebreak dev stopped") {
		ts.Fatalf("devstop: no 'firebreak dev stopped' in output:\n%s", out)
	}
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad exit code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

func cmdWaitIncident(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitincident REF [MIN_ALERTS]")
	}
	minAlerts := int64(1)
	if len(args) == 2 {
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			ts.Fatalf("waitincident: bad alert count %q", args[1])
		}
		minAlerts = n
	}
	c := client.New(ts.Getenv("FIREBREAK_SERVER"), ts.Getenv("FIREBREAK_TOKEN"), "")
	deadline := time.Now().Add(15 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		i, err := c.GetIncident(context.Background(), args[0])
		if err == nil && i.AlertCount >= minAlerts {
			return
		}
		if err == nil {
			err = fmt.Errorf("%s has %d alerts", i.Key, i.AlertCount)
		}
		lastErr = err
		time.Sleep(25 * time.Millisecond)
	}
	ts.Fatalf("waitincident %s: %v", args[0], lastErr)
}
