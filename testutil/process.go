package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildBinary builds ./cmd/serf of the module rooted at moduleDir into dir
// and returns the binary's path. Tests call it once from TestMain.
func BuildBinary(moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "serf")
	cmd := exec.Command("go", "build", "-race", "-o", bin, "./cmd/serf")
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// SyncBuffer is a bytes.Buffer that a process, a logger or a command may
// write while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Process is a running serf command whose output the test can watch.
type Process struct {
	Cmd    *exec.Cmd
	stdout SyncBuffer
	stderr SyncBuffer
	done   chan struct{}
	err    error
}

// StartProcess starts bin with args in dir, with extra environment.
func StartProcess(bin, dir string, env []string, args ...string) (*Process, error) {
	p := &Process{done: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Dir = dir
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout = &p.stdout
	p.Cmd.Stderr = &p.stderr
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Stdout returns what the process printed so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr returns what the process printed on stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// WaitOutput waits until stdout contains s.
func (p *Process) WaitOutput(s string, timeout time.Duration) error {
	return Poll(timeout, 20*time.Millisecond, func() error {
		if strings.Contains(p.Stdout(), s) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited (%v) without printing %q:\n%s%s", p.err, s, p.Stdout(), p.Stderr())
		default:
		}
		return fmt.Errorf("no %q in output yet:\n%s", s, p.Stdout())
	})
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its exit code.
func (p *Process) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return -1, fmt.Errorf("process still running after %v", timeout)
	}
	if p.Cmd.ProcessState == nil {
		return -1, p.err
	}
	return p.Cmd.ProcessState.ExitCode(), nil
}

// Kill kills the process if it still runs and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Run runs bin to completion and returns stdout, stderr and exit code.
func Run(bin, dir string, env []string, timeout time.Duration, args ...string) (string, string, int, error) {
	p, err := StartProcess(bin, dir, env, args...)
	if err != nil {
		return "", "", -1, err
	}
	code, err := p.Wait(timeout)
	if err != nil {
		p.Kill()
		return p.Stdout(), p.Stderr(), -1, err
	}
	return p.Stdout(), p.Stderr(), code, nil
}
